"""Res2Net's block with attention between its splits instead of the chain.

Gao et al., "Res2Net: A New Multi-scale Backbone Architecture", TPAMI 2019,
read as multi-head attention (Vaswani et al., "Attention Is All You Need",
NeurIPS 2017): the splits are the heads. Res2Net's splits talk in a fixed
chain, heads not at all; here they talk through content-dependent attention.
"""
import math
from typing import Optional

import torch
import torch.nn as nn

from mmzoo.models.utils import Bottle2neck


class GroupAttentionBottle2neck(Bottle2neck):
    """A :class:`~mmzoo.models.utils.Bottle2neck` whose splits exchange
    information by attention instead of the hierarchical chain.

    At every pixel the ``scales`` splits are ``scales`` tokens of ``width``
    channels. Each token is projected to a query and a key of
    ``key_channels``; split ``i`` receives the attention-weighted sum of all
    splits (their own features are the values, so no value projection adds
    parameters) added to itself, exactly where the chain adds the previous
    split's output. Then, as in Res2Net, the first ``scales - 1`` splits go
    through their own 3×3 convolution and the last passes through.

    The block keeps Res2Net's convolutions one for one and adds only the
    query and key projections, ``2 * width * key_channels`` weights, so it
    has Res2Net's parameter budget up to that term. What it removes is the
    chain's growing receptive field: every split sees one 3×3 neighbourhood.

    Args:
        inplanes (int): Input channels.
        planes (int): Bottleneck channels; the block outputs ``4 * planes``.
        scales (int): Number of splits (heads), at least 2.
        base_width (int): Width of each split for ``planes == 64``.
        groups (int): Groups of each split's 3×3 convolution (Res2NeXt).
        dilation (int): Dilation of the 3×3 convolutions.
        shortcut (nn.Module, optional): Projection of the identity path.
        key_channels (int): Channels of each query and key.
        conv_cfg (dict, optional): Convolution config.
        norm_cfg (dict): Normalisation config.
    """

    def __init__(self, inplanes: int, planes: int, scales: int,
                 base_width: int, groups: int, dilation: int,
                 shortcut: Optional[nn.Module], key_channels: int,
                 conv_cfg: Optional[dict], norm_cfg: dict) -> None:
        if scales < 2:
            raise ValueError('attention between splits needs scales >= 2, '
                             f'got {scales}')
        super().__init__(
            inplanes,
            planes,
            scales,
            base_width,
            groups,
            stride=1,
            dilation=dilation,
            shortcut=shortcut,
            first_in_stage=False,
            conv_cfg=conv_cfg,
            norm_cfg=norm_cfg)
        self.scales = scales
        self.query = nn.Conv2d(self.width, key_channels, 1, bias=False)
        self.key = nn.Conv2d(self.width, key_channels, 1, bias=False)

    def _multi_scale(self, x: torch.Tensor) -> torch.Tensor:
        splits = self.conv1(x)
        n, _, h, w = splits.shape
        # (N * scales, width, H, W): one token per split and pixel.
        tokens = splits.reshape(n * self.scales, self.width, h, w)
        q = self.query(tokens).reshape(n, self.scales, -1, h, w)
        k = self.key(tokens).reshape(n, self.scales, -1, h, w)
        attn = torch.einsum('nidhw,njdhw->nijhw', q, k)
        attn = (attn / math.sqrt(q.shape[2])).softmax(dim=2)
        values = splits.reshape(n, self.scales, self.width, h, w)
        mixed = values + torch.einsum('nijhw,njchw->nichw', attn, values)
        outs = [conv(mixed[:, i]) for i, conv in enumerate(self.convs)]
        outs.append(mixed[:, -1])
        return torch.cat(outs, dim=1)
