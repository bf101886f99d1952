"""Res2Net's block: a bottleneck whose 3×3 convolution is split into scales.

Gao et al., "Res2Net: A New Multi-scale Backbone Architecture", TPAMI 2019.
Used by the Res2Net backbone and by decoders that fuse features with it.
"""
import math
from typing import Optional

import torch
import torch.nn as nn
from mmcv.cnn import ConvModule

from .resnet_base import ResidualBlock


class Bottle2neck(ResidualBlock):
    """Bottleneck whose 3×3 convolution is replaced by ``scales`` splits of
    ``width`` channels, convolved hierarchically: each split (but the first)
    adds the previous split's output before its own 3×3 convolution, and the
    last split passes through unconvolved.

    The first block of a stage (``first_in_stage``) convolves the splits
    independently and average-pools the last one with the block's stride.
    The official implementation pools even at stride 1, where the pool still
    smooths that split; mmdet skips the pool there, so its weights do not
    reproduce the official outputs.

    Args:
        inplanes (int): Input channels.
        planes (int): Bottleneck channels; the block outputs ``4 * planes``.
        scales (int): Number of splits.
        base_width (int): Width of each split for ``planes == 64``.
        groups (int): Groups of each split's 3×3 convolution (Res2NeXt).
        stride (int): Stride of the 3×3 convolutions and of the pool.
        dilation (int): Dilation of the 3×3 convolutions.
        shortcut (nn.Module, optional): Projection of the identity path.
        first_in_stage (bool): Whether the block opens its stage.
        conv_cfg (dict, optional): Convolution config.
        norm_cfg (dict): Normalisation config.
    """
    expansion = 4

    def __init__(self, inplanes: int, planes: int, scales: int,
                 base_width: int, groups: int, stride: int, dilation: int,
                 shortcut: Optional[nn.Module], first_in_stage: bool,
                 conv_cfg: Optional[dict], norm_cfg: dict) -> None:
        super().__init__()
        if scales < 1:
            raise ValueError(f'scales must be >= 1, got {scales}')
        self.width = math.floor(planes * base_width / 64) * groups
        self.first_in_stage = first_in_stage
        self.conv1 = ConvModule(
            inplanes,
            self.width * scales,
            1,
            bias=False,
            conv_cfg=conv_cfg,
            norm_cfg=norm_cfg)
        self.convs = nn.ModuleList(
            ConvModule(
                self.width,
                self.width,
                3,
                stride,
                padding=dilation,
                dilation=dilation,
                groups=groups,
                bias=False,
                conv_cfg=conv_cfg,
                norm_cfg=norm_cfg) for _ in range(max(scales - 1, 1)))
        # With one scale there is no pass-through split to pool.
        self.pool = nn.AvgPool2d(3, stride, padding=1) \
            if first_in_stage and scales > 1 else None
        self.conv3 = ConvModule(
            self.width * scales,
            planes * self.expansion,
            1,
            bias=False,
            conv_cfg=conv_cfg,
            norm_cfg=norm_cfg,
            act_cfg=None)
        self.shortcut = shortcut
        self.relu = nn.ReLU(inplace=True)

    def _multi_scale(self, x: torch.Tensor) -> torch.Tensor:
        # A method of its own so that the splits and per-split outputs are
        # freed on return, before conv3 runs: holding them cost up to 14%
        # more peak memory (docs/en/benchmarks/backbones.md).
        splits = torch.split(self.conv1(x), self.width, dim=1)
        outs = []
        for i, conv in enumerate(self.convs):
            sp = splits[i] if i == 0 or self.first_in_stage \
                else outs[-1] + splits[i]
            outs.append(conv(sp))
        if len(splits) > 1:
            last = splits[-1]
            outs.append(self.pool(last) if self.pool is not None else last)
        return torch.cat(outs, dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.add_shortcut(self.conv3(self._multi_scale(x)), x)
