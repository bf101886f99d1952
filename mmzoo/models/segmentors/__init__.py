from .siam_encoder_decoder import SiamEncoderDecoder

__all__ = ['SiamEncoderDecoder']
