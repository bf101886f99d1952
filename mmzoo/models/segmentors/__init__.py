from .bsda_net import BSDANet
from .siam_encoder_decoder import SiamEncoderDecoder

__all__ = ['BSDANet', 'SiamEncoderDecoder']
