from .res2net import Res2Net
from .resnest import ResNeSt
from .resnet import ResNet
from .resnext import ResNeXt
from .swin import SwinTransformer

__all__ = ['Res2Net', 'ResNeSt', 'ResNet', 'ResNeXt', 'SwinTransformer']
