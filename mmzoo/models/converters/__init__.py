"""Official checkpoints -> mmzoo's layout, one module per backbone family (as
timm keeps ``checkpoint_filter_fn`` beside each model).

Each ``convert_*`` takes the source state dict, reads the architecture off the
weights, renames the keys and checks the result against a freshly built
mmpretrain ``ImageClassifier`` with the matching mmzoo backbone, returning
``(state dict, arch)``. ``tools/model_converters/*.py`` are the command lines
around them.
"""
from .res2net import convert_official_res2net
from .resnest import convert_official_resnest
from .resnet import convert_torchvision_resnet
from .resnext import convert_torchvision_resnext
from .swin import convert_official_swin, swin_to_mmseg

__all__ = [
    'convert_official_res2net', 'convert_official_resnest',
    'convert_torchvision_resnet', 'convert_torchvision_resnext',
    'convert_official_swin', 'swin_to_mmseg'
]
