"""STANet's feature extractor neck.

Chen and Shi, "A Spatial-Temporal Attention-Based Method and a New Dataset for
Remote Sensing Image Change Detection", Remote Sensing 2020. Follows the
``Decoder`` of the official code (github justchenhao/STANet, models/mynet3.py).
"""
from typing import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule

from mmzoo.registry import MODELS


@MODELS.register_module()
class STANetFPN(BaseModule):
    """Reduce every backbone stage, upsample to the finest, fuse.

    Each stage goes through a 1×1 convolution (no bias) with BN and ReLU to
    ``mid_channels`` (96), is upsampled bilinearly (``align_corners=True``)
    to the first stage's size (1/4 of the image for a ResNet), and the
    stages are concatenated, deepest first as the official code does. A 3×3
    convolution to ``hidden_channels`` (256) with BN and ReLU, dropout 0.5
    and a 1×1 convolution to ``out_channels`` (64) with BN and ReLU give the
    embedding whose distances STANet compares. No convolution has a bias.

    Args:
        in_channels (Sequence[int]): Channels of the backbone outputs, finest
            first. Default: ResNet-18's (64, 128, 256, 512).
        mid_channels (int): Channels of each reduced stage. Default: 96.
        hidden_channels (int): Channels of the 3×3 fusion. Default: 256.
        out_channels (int): Embedding channels. Default: 64.
        dropout_ratio (float): Dropout after the fusion. Default: 0.5.
        norm_cfg (dict): Normalisation config. Default: BN.
        init_cfg (dict or list[dict], optional): Initialisation config.
            By default ConvModule's Kaiming (fan-out) initialisation; the
            official code draws fan-in, a difference of scale that the BN
            after every convolution removes.

    Returns (forward):
        Tensor: (N, out_channels, H1, W1), H1×W1 the first stage's size.
    """

    def __init__(self,
                 in_channels: Sequence[int] = (64, 128, 256, 512),
                 mid_channels: int = 96,
                 hidden_channels: int = 256,
                 out_channels: int = 64,
                 dropout_ratio: float = 0.5,
                 norm_cfg: dict = dict(type='BN', requires_grad=True),
                 init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.in_channels = tuple(in_channels)
        self.reduce = nn.ModuleList(
            ConvModule(c, mid_channels, 1, bias=False, norm_cfg=norm_cfg)
            for c in self.in_channels)
        self.fuse = ConvModule(
            mid_channels * len(self.in_channels),
            hidden_channels,
            3,
            padding=1,
            bias=False,
            norm_cfg=norm_cfg)
        self.dropout = nn.Dropout(dropout_ratio)
        self.project = ConvModule(
            hidden_channels, out_channels, 1, bias=False, norm_cfg=norm_cfg)

    def forward(self, inputs: Sequence[torch.Tensor]) -> torch.Tensor:
        if len(inputs) != len(self.in_channels):
            raise ValueError(
                f'STANetFPN was built for {len(self.in_channels)} inputs '
                f'(in_channels={self.in_channels}), got {len(inputs)}')
        size = inputs[0].shape[2:]
        feats = []
        for x, reduce in zip(inputs, self.reduce):
            x = reduce(x)
            if x.shape[2:] != size:
                x = F.interpolate(
                    x, size=size, mode='bilinear', align_corners=True)
            feats.append(x)
        # Deepest stage first, the official concatenation order, so that
        # official weights of the fusion convolution apply unchanged.
        x = torch.cat(feats[-1:] + feats[:-1], dim=1)
        return self.project(self.dropout(self.fuse(x)))
