from .backbone import backbone_init_cfg, freeze
from .data_samples import unpadded_samples
from .res2net_block import Bottle2neck
from .resnet_base import (ResidualBlock, ResLayer, ResNetBase, build_shortcut,
                          build_stem)
from .resnet_stages import resnet_stages

__all__ = [
    'Bottle2neck', 'ResidualBlock', 'ResLayer', 'ResNetBase',
    'backbone_init_cfg', 'build_shortcut', 'build_stem', 'freeze',
    'resnet_stages', 'unpadded_samples'
]
