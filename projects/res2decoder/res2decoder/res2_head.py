"""A segmentation head that fuses features with Res2Net blocks.

Gao et al., "Res2Net: A New Multi-scale Backbone Architecture", TPAMI 2019.
"""
import torch
import torch.nn as nn
from mmcv.cnn import ConvModule
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.models.utils import resize

from mmzoo.registry import MODELS
from .res2_fusion import Res2Fusion


@MODELS.register_module()
class Res2Head(BaseDecodeHead):
    """Decode head whose fusion blocks are Res2Net blocks.

    Every selected input goes through a 1×1 convolution to ``channels``; with
    several inputs (``input_transform='multiple_select'``) they are resized
    to the first one's size, concatenated and merged by another 1×1
    convolution. ``num_blocks`` Res2Net blocks (:class:`Res2Fusion`) then
    fuse the result before the classifier. It takes the keyword arguments
    of mmseg's ``BaseDecodeHead``, so it drops in wherever ``FCNHead`` (one
    input) or ``UPerHead`` (several) are used.

    Args:
        num_blocks (int): Res2Net blocks. Default: 2.
        scales (int): Splits per block (Res2Net's ``s``). Default: 4.
        base_width (int): Split width for ``channels == 256`` (Res2Net's
            ``w``); the width is ``floor(channels / 4 * base_width / 64) *
            groups``. Default: 26.
        groups (int): Groups of each split's 3×3 convolution, Res2NeXt's
            cardinality. Default: 1.
        mixing (str): How the splits talk: ``'chain'`` (Res2Net) or
            ``'attention'`` (attention between the splits, see
            :class:`GroupAttentionBottle2neck`). Default: ``'chain'``.
        key_channels (int): Query and key channels of ``'attention'``.
            Default: 8.
        **kwargs: ``BaseDecodeHead``'s arguments (``in_channels``,
            ``channels``, ``num_classes``, ``in_index``,
            ``input_transform``, ``norm_cfg``, ``loss_decode``, ...).
    """

    def __init__(self,
                 num_blocks: int = 2,
                 scales: int = 4,
                 base_width: int = 26,
                 groups: int = 1,
                 mixing: str = 'chain',
                 key_channels: int = 8,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        in_channels = self.in_channels if isinstance(
            self.in_channels, (list, tuple)) else [self.in_channels]
        self.lateral_convs = nn.ModuleList(
            ConvModule(
                c,
                self.channels,
                1,
                conv_cfg=self.conv_cfg,
                norm_cfg=self.norm_cfg,
                act_cfg=self.act_cfg) for c in in_channels)
        self.merge = ConvModule(
            self.channels * len(in_channels),
            self.channels,
            1,
            conv_cfg=self.conv_cfg,
            norm_cfg=self.norm_cfg,
            act_cfg=self.act_cfg) if len(in_channels) > 1 else None
        self.fusion = Res2Fusion(
            self.channels,
            num_blocks,
            scales,
            base_width,
            groups,
            mixing=mixing,
            key_channels=key_channels,
            conv_cfg=self.conv_cfg,
            norm_cfg=self.norm_cfg)

    def forward(self, inputs) -> torch.Tensor:
        x = self._transform_inputs(inputs)
        feats = list(x) if isinstance(x, (list, tuple)) else [x]
        size = feats[0].shape[2:]
        feats = [
            resize(
                lateral(f),
                size=size,
                mode='bilinear',
                align_corners=self.align_corners)
            for f, lateral in zip(feats, self.lateral_convs)
        ]
        x = feats[0] if self.merge is None else self.merge(
            torch.cat(feats, dim=1))
        return self.cls_seg(self.fusion(x))
