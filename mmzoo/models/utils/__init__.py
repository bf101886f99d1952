from .backbone import backbone_init_cfg, freeze
from .resnet_base import (ResidualBlock, ResLayer, ResNetBase, build_shortcut,
                          build_stem)

__all__ = [
    'ResidualBlock', 'ResLayer', 'ResNetBase', 'backbone_init_cfg',
    'build_shortcut', 'build_stem', 'freeze'
]
