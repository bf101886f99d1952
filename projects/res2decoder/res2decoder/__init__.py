"""Res2Net's split-and-chain idea in decoders: ``Res2Head`` for semantic
segmentation, ``Res2STANetFPN`` for STANet's change-detection neck, and the
attention-between-splits variant of both (``mixing='attention'``)."""
from .group_attention_block import GroupAttentionBottle2neck
from .res2_fusion import Res2Fusion
from .res2_head import Res2Head
from .res2_stanet_fpn import Res2STANetFPN

__all__ = [
    'GroupAttentionBottle2neck', 'Res2Fusion', 'Res2Head', 'Res2STANetFPN'
]
