"""A stack of Res2Net blocks that fuses decoder features at constant width.

Gao et al., "Res2Net: A New Multi-scale Backbone Architecture", TPAMI 2019.
"""
from typing import Optional

import torch.nn as nn

from mmzoo.models.utils import Bottle2neck
from .group_attention_block import GroupAttentionBottle2neck

MIXINGS = ('chain', 'attention')


class Res2Fusion(nn.Sequential):
    """``num_blocks`` residual Res2Net blocks of ``channels`` in and out.

    Each block is Res2Net's bottleneck with ``planes = channels // 4``, so the
    split width follows the backbone's rule: ``floor(planes * base_width /
    64) * groups``, i.e. ``base_width`` itself when ``channels == 256``.
    ``mixing='chain'`` is Res2Net's hierarchical chain (Res2NeXt when
    ``groups > 1``); ``'attention'`` replaces the chain with attention between
    the splits (:class:`GroupAttentionBottle2neck`).

    Args:
        channels (int): Input and output channels, a multiple of 4.
        num_blocks (int): Number of blocks.
        scales (int): Splits per block.
        base_width (int): Split width for ``channels == 256``.
        groups (int): Groups of each split's 3×3 convolution (cardinality).
        mixing (str): ``'chain'`` or ``'attention'``.
        key_channels (int): Query and key channels of the attention.
        dilation (int): Dilation of the 3×3 convolutions.
        conv_cfg (dict, optional): Convolution config.
        norm_cfg (dict): Normalisation config.
    """

    def __init__(self,
                 channels: int,
                 num_blocks: int,
                 scales: int,
                 base_width: int,
                 groups: int = 1,
                 mixing: str = 'chain',
                 key_channels: int = 8,
                 dilation: int = 1,
                 conv_cfg: Optional[dict] = None,
                 norm_cfg: dict = dict(type='BN', requires_grad=True)):
        if mixing not in MIXINGS:
            raise ValueError(f'mixing must be one of {MIXINGS}, got '
                             f'{mixing!r}')
        if channels % Bottle2neck.expansion:
            raise ValueError(f'channels must be a multiple of '
                             f'{Bottle2neck.expansion}, got {channels}')
        planes = channels // Bottle2neck.expansion
        if planes * base_width // 64 < 1:
            raise ValueError(
                f'base_width={base_width} gives splits of no channels at '
                f'channels={channels}; the split width is floor(channels / 4 '
                '* base_width / 64) * groups')
        if num_blocks < 1:
            raise ValueError(f'num_blocks must be >= 1, got {num_blocks}')
        blocks = []
        for _ in range(num_blocks):
            if mixing == 'chain':
                block = Bottle2neck(
                    channels,
                    planes,
                    scales,
                    base_width,
                    groups,
                    stride=1,
                    dilation=dilation,
                    shortcut=None,
                    first_in_stage=False,
                    conv_cfg=conv_cfg,
                    norm_cfg=norm_cfg)
            else:
                block = GroupAttentionBottle2neck(
                    channels,
                    planes,
                    scales,
                    base_width,
                    groups,
                    dilation=dilation,
                    shortcut=None,
                    key_channels=key_channels,
                    conv_cfg=conv_cfg,
                    norm_cfg=norm_cfg)
            blocks.append(block)
        super().__init__(*blocks)
