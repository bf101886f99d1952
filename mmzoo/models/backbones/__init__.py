from .res2net import Res2Net
from .resnext import ResNeXt

__all__ = ['Res2Net', 'ResNeXt']
