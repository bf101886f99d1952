"""STANet's neck with a Res2Net fusion block.

Chen and Shi, "A Spatial-Temporal Attention-Based Method and a New Dataset for
Remote Sensing Image Change Detection", Remote Sensing 2020; Gao et al.,
"Res2Net: A New Multi-scale Backbone Architecture", TPAMI 2019.
"""
from typing import Sequence

import torch.nn as nn
from mmcv.cnn import ConvModule

from mmzoo.models.necks import STANetFPN
from mmzoo.registry import MODELS
from .res2_fusion import Res2Fusion


@MODELS.register_module()
class Res2STANetFPN(STANetFPN):
    """:class:`~mmzoo.models.necks.STANetFPN` whose 3×3 fusion convolution is
    a 1×1 convolution to ``hidden_channels`` followed by Res2Net blocks
    (:class:`Res2Fusion`); the reduction, upsampling, concatenation order,
    dropout and 1×1 projection are STANet's.

    Args:
        in_channels (Sequence[int]): Channels of the backbone outputs, finest
            first.
        mid_channels (int): Channels of each reduced stage.
        hidden_channels (int): Channels of the fusion, a multiple of 4.
        out_channels (int): Embedding channels.
        dropout_ratio (float): Dropout after the fusion.
        num_blocks (int): Res2Net blocks. Default: 1.
        scales (int): Splits per block. Default: 4.
        base_width (int): Split width for ``hidden_channels == 256``.
            Default: 26.
        groups (int): Cardinality of the split convolutions. Default: 1.
        mixing (str): ``'chain'`` (Res2Net) or ``'attention'``.
        key_channels (int): Query and key channels of ``'attention'``.
        norm_cfg (dict): Normalisation config. Default: BN.
        init_cfg (dict or list[dict], optional): Initialisation config.
    """

    def __init__(self,
                 in_channels: Sequence[int] = (64, 128, 256, 512),
                 mid_channels: int = 96,
                 hidden_channels: int = 256,
                 out_channels: int = 64,
                 dropout_ratio: float = 0.5,
                 num_blocks: int = 1,
                 scales: int = 4,
                 base_width: int = 26,
                 groups: int = 1,
                 mixing: str = 'chain',
                 key_channels: int = 8,
                 norm_cfg: dict = dict(type='BN', requires_grad=True),
                 init_cfg=None) -> None:
        super().__init__(
            in_channels,
            mid_channels,
            hidden_channels,
            out_channels,
            dropout_ratio,
            norm_cfg=norm_cfg,
            init_cfg=init_cfg)
        self.fuse = nn.Sequential(
            ConvModule(
                mid_channels * len(self.in_channels),
                hidden_channels,
                1,
                bias=False,
                norm_cfg=norm_cfg),
            Res2Fusion(
                hidden_channels,
                num_blocks,
                scales,
                base_width,
                groups,
                mixing=mixing,
                key_channels=key_channels,
                norm_cfg=norm_cfg))
