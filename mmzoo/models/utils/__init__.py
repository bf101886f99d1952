from .backbone import backbone_init_cfg, freeze
from .resnet_base import ResLayer, ResNetBase, build_shortcut, build_stem

__all__ = [
    'ResLayer', 'ResNetBase', 'backbone_init_cfg', 'build_shortcut',
    'build_stem', 'freeze'
]
