from .res2net import Res2Net
from .resnest import ResNeSt
from .resnext import ResNeXt

__all__ = ['Res2Net', 'ResNeSt', 'ResNeXt']
