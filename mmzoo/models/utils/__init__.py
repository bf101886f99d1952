from .freeze import freeze
from .resnet_base import ResLayer, ResNetBase, build_shortcut, build_stem

__all__ = ['ResLayer', 'ResNetBase', 'build_shortcut', 'build_stem', 'freeze']
