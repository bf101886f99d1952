"""ResNeSt: ResNet with split-attention blocks.

Zhang et al., "ResNeSt: Split-Attention Networks", arXiv:2004.08955, 2020.
Follows the official implementation (github zhanghang1989/ResNeSt,
``resnest/torch/models/{splat,resnet,resnest}.py``), whose checkpoints
``tools/model_converters/resnest2mmzoo.py`` converts.
"""
from typing import Optional

import torch
import torch.nn as nn
from mmcv.cnn import ConvModule, build_conv_layer, build_norm_layer

from mmzoo.registry import MODELS
from ..utils import ResidualBlock, ResNetBase


def radix_softmax(attn: torch.Tensor, radix: int, groups: int) -> torch.Tensor:
    """The official ``rSoftMax``: normalise the attention logits across the
    ``radix`` splits, separately for every channel of every group.

    Args:
        attn (Tensor): ``(B, radix * C, 1, 1)`` logits as the grouped ``fc2``
            writes them: group-major, then radix, then the group's channels.
        radix (int): Number of splits.
        groups (int): Cardinality.

    Returns:
        Tensor: ``(B, radix, C, 1, 1)`` weights, radix-major like the splits
        of the grouped convolution. With one split there is nothing to
        compete with, so each channel is gated by a sigmoid instead.
    """
    batch = attn.size(0)
    if radix > 1:
        attn = attn.view(batch, groups, radix, -1).transpose(1, 2)
        attn = attn.softmax(dim=1)
    else:
        attn = attn.sigmoid()
    return attn.reshape(batch, radix, -1, 1, 1)


class SplitAttentionConv2d(nn.Module):
    """Split-attention convolution (the official ``SplAtConv2d``).

    A grouped convolution produces ``radix`` splits of ``channels`` channels
    for every one of ``groups`` cardinal groups. Their sum is pooled
    globally and passed through a two-layer bottleneck MLP (``fc1``, norm,
    ReLU, ``fc2``) that scores every split of every channel; the output is
    the sum of the splits weighted by those scores, normalised across the
    radix (:func:`radix_softmax`).

    Args:
        in_channels (int): Input channels.
        channels (int): Output channels.
        kernel_size (int): Kernel of the split convolution.
        stride (int): Stride of the split convolution.
        padding (int): Padding of the split convolution.
        dilation (int): Dilation of the split convolution.
        groups (int): Cardinality.
        radix (int): Splits per cardinal group; 1 gates with a sigmoid.
        reduction_factor (int): ``fc1`` has ``in_channels * radix //
            reduction_factor`` channels, and never fewer than 32 (the
            official floor, so narrow first stages keep a usable MLP).
        conv_cfg (dict, optional): Convolution config.
        norm_cfg (dict): Normalisation config.
    """

    def __init__(self,
                 in_channels: int,
                 channels: int,
                 kernel_size: int,
                 stride: int = 1,
                 padding: int = 0,
                 dilation: int = 1,
                 groups: int = 1,
                 radix: int = 2,
                 reduction_factor: int = 4,
                 conv_cfg: Optional[dict] = None,
                 norm_cfg: dict = dict(type='BN')):
        super().__init__()
        if radix < 1:
            raise ValueError(f'radix must be >= 1, got {radix}')
        if channels % groups:
            raise ValueError(f'channels ({channels}) must be divisible by '
                             f'groups ({groups})')
        self.radix = radix
        self.groups = groups
        self.channels = channels
        inter_channels = max(in_channels * radix // reduction_factor, 32)
        # One convolution computes all splits: its groups * radix groups are
        # radix-major, split r being output channels [r * C, (r + 1) * C).
        self.conv = ConvModule(
            in_channels,
            channels * radix,
            kernel_size,
            stride,
            padding=padding,
            dilation=dilation,
            groups=groups * radix,
            bias=False,
            conv_cfg=conv_cfg,
            norm_cfg=norm_cfg)
        # fc1 keeps its bias although a norm follows, as in the official
        # model: its weights carry one, and with frozen running statistics
        # the bias is not redundant.
        self.fc1 = build_conv_layer(
            conv_cfg, channels, inter_channels, 1, groups=groups)
        self.norm1_name, norm1 = build_norm_layer(
            norm_cfg, inter_channels, postfix=1)
        self.add_module(self.norm1_name, norm1)
        self.relu = nn.ReLU(inplace=True)
        self.fc2 = build_conv_layer(
            conv_cfg, inter_channels, channels * radix, 1, groups=groups)

    @property
    def norm1(self) -> nn.Module:
        return getattr(self, self.norm1_name)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x)
        batch, _, height, width = x.shape
        splits = x.view(batch, self.radix, self.channels, height, width)
        gap = splits.sum(dim=1).mean(dim=(2, 3), keepdim=True)
        attn = self.fc2(self.relu(self.norm1(self.fc1(gap))))
        attn = radix_softmax(attn, self.radix, self.groups)
        return (splits * attn).sum(dim=1)


class Bottleneck(ResidualBlock):
    """ResNeSt bottleneck: 1×1 reduction, a 3×3 split-attention convolution,
    1×1 expansion.

    With ``avd`` (the official "average downsampling") the block's stride
    is taken by a 3×3 average pool (padding 1) instead of by the 3×3
    convolution, so that no input position is skipped; the released models
    pool after the split-attention convolution (``avd_first=False``).

    Args:
        inplanes (int): Input channels.
        planes (int): Bottleneck channels at ``base_width=64, groups=1``;
            the block outputs ``4 * planes``.
        radix (int): Splits of the split-attention convolution.
        groups (int): Cardinality.
        base_width (int): Width per group for ``planes == 64``; the 3×3
            convolution has ``int(planes * base_width / 64) * groups``
            channels.
        reduction_factor (int): Reduction of the attention MLP.
        stride (int): Stride of the block.
        dilation (int): Dilation (and padding) of the 3×3 convolution.
        avd (bool): Whether the block has the average pool; it then takes
            ``stride`` (which may be 1: the official first block of a dilated
            stage still pools).
        avd_first (bool): Pool before the split-attention convolution.
        shortcut (nn.Module, optional): Projection of the identity path.
        conv_cfg (dict, optional): Convolution config.
        norm_cfg (dict): Normalisation config.
    """
    expansion = 4

    def __init__(self, inplanes: int, planes: int, radix: int, groups: int,
                 base_width: int, reduction_factor: int, stride: int,
                 dilation: int, avd: bool, avd_first: bool,
                 shortcut: Optional[nn.Module], conv_cfg: Optional[dict],
                 norm_cfg: dict) -> None:
        super().__init__()
        width = int(planes * (base_width / 64.)) * groups
        self.avd_first = avd_first
        self.conv1 = ConvModule(
            inplanes,
            width,
            1,
            bias=False,
            conv_cfg=conv_cfg,
            norm_cfg=norm_cfg)
        self.avd_pool = nn.AvgPool2d(3, stride, padding=1) if avd else None
        self.conv2 = SplitAttentionConv2d(
            width,
            width,
            3,
            stride=1 if avd else stride,
            padding=dilation,
            dilation=dilation,
            groups=groups,
            radix=radix,
            reduction_factor=reduction_factor,
            conv_cfg=conv_cfg,
            norm_cfg=norm_cfg)
        self.conv3 = ConvModule(
            width,
            planes * self.expansion,
            1,
            bias=False,
            conv_cfg=conv_cfg,
            norm_cfg=norm_cfg,
            act_cfg=None)
        self.shortcut = shortcut
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv1(x)
        if self.avd_pool is not None and self.avd_first:
            out = self.avd_pool(out)
        out = self.conv2(out)
        if self.avd_pool is not None and not self.avd_first:
            out = self.avd_pool(out)
        return self.add_shortcut(self.conv3(out), x)


@MODELS.register_module()
class ResNeSt(ResNetBase):
    """ResNeSt backbone.

    Zhang et al., "ResNeSt: Split-Attention Networks", arXiv:2004.08955,
    2020.

    A ResNet-D (deep stem, average-pool shortcut) whose bottlenecks use a
    split-attention 3×3 convolution and move their stride to an average
    pool. The released models are radix 2, cardinality 1, width 64:

    ===========  =====  =================  ==========
    model        depth  blocks             stem width
    ===========  =====  =================  ==========
    ResNeSt-50   50     (3, 4, 6, 3)       32
    ResNeSt-101  101    (3, 4, 23, 3)      64
    ResNeSt-200  200    (3, 24, 36, 3)     64
    ResNeSt-269  269    (3, 30, 48, 8)     64
    ===========  =====  =================  ==========

    Dilated stages (e.g. ``strides=(1, 2, 1, 1), dilations=(1, 1, 2, 4)``
    for output stride 8) follow the official dilated network: the first
    block of a dilated stage uses half the dilation (``contract_dilation``)
    and, like the first block of every stage after the first, keeps its
    average pool even at stride 1. mmseg and mmdet drop that stride-1 pool,
    so official weights give other features there.

    Args:
        depth (int): 50, 101, 200 or 269.
        radix (int): Splits per cardinal group. Default: 2.
        groups (int): Cardinality. Default: 1.
        base_width (int): Width per group of the first stage. Default: 64.
        reduction_factor (int): Reduction of the attention MLP (at least 32
            channels). Default: 4.
        stem_channels (int, optional): Output channels of the deep stem,
            twice the official ``stem_width``; None takes the official one
            for ``depth`` (64 for depth 50, 128 otherwise).
        avd (bool): Average pool instead of strided 3×3 convolution.
            Default: True.
        avd_first (bool): Pool before the split-attention convolution
            (the official ablation "fast" models); the released models pool
            after it. Default: False.
        contract_dilation (bool): First block of a dilated stage uses half
            the stage's dilation, as the official dilated network (and
            mmseg's ``contract_dilation``) does. Default: True.
        **kwargs: The stage, freezing, norm and init options of
            :class:`mmzoo.models.utils.ResNetBase` (``strides``,
            ``dilations``, ``out_indices``, ``frozen_stages``, ``norm_cfg``,
            ``norm_eval``, ``with_cp``, ``pretrained``, ``init_cfg``, ...).
            The deep stem and average-pool shortcut are always on.

    Example:
        >>> import torch
        >>> from mmzoo.models import ResNeSt
        >>> model = ResNeSt(depth=50, out_indices=(0, 1, 2, 3)).eval()
        >>> [o.shape[1:] for o in model(torch.rand(1, 3, 64, 64))]
        [torch.Size([256, 16, 16]), torch.Size([512, 8, 8]),
         torch.Size([1024, 4, 4]), torch.Size([2048, 2, 2])]
    """
    # depth: (blocks per stage, official stem width)
    arch_settings = {
        50: ((3, 4, 6, 3), 32),
        101: ((3, 4, 23, 3), 64),
        200: ((3, 24, 36, 3), 64),
        269: ((3, 30, 48, 8), 64),
    }

    def __init__(self,
                 depth: int,
                 radix: int = 2,
                 groups: int = 1,
                 base_width: int = 64,
                 reduction_factor: int = 4,
                 stem_channels: Optional[int] = None,
                 avd: bool = True,
                 avd_first: bool = False,
                 contract_dilation: bool = True,
                 **kwargs) -> None:
        if depth not in self.arch_settings:
            raise KeyError(f'invalid depth {depth} for ResNeSt, choose from '
                           f'{sorted(self.arch_settings)}')
        if radix < 1:
            raise ValueError(f'radix must be >= 1, got {radix}')
        stage_blocks, stem_width = self.arch_settings[depth]
        if stem_channels is None:
            stem_channels = 2 * stem_width
        self.radix = radix
        self.groups = groups
        self.base_width = base_width
        self.reduction_factor = reduction_factor
        self.avd = avd
        self.avd_first = avd_first
        self.contract_dilation = contract_dilation
        super().__init__(
            stage_blocks,
            stem_channels=stem_channels,
            deep_stem=True,
            avg_down=True,
            **kwargs)

    def make_block(self, inplanes, planes, *, stage, index, stride, dilation,
                   shortcut, conv_cfg, norm_cfg) -> Bottleneck:
        # Official: avd when stride > 1 or ``is_first``, which is set for the
        # first block of every stage but the first.
        avd = self.avd and (stride > 1 or (index == 0 and stage > 0))
        if index == 0 and self.contract_dilation and dilation > 1:
            dilation //= 2
        return Bottleneck(inplanes, planes, self.radix, self.groups,
                          self.base_width, self.reduction_factor, stride,
                          dilation, avd, self.avd_first, shortcut, conv_cfg,
                          norm_cfg)
