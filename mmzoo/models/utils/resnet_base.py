"""What the ResNet family (Res2Net, Res2NeXt, ResNeXt, ResNeSt) shares: the
stem, the shortcut, stage assembly, freezing and norm_eval.

A backbone subclasses :class:`ResNetBase` and supplies its block through
:meth:`ResNetBase.make_block`.
"""
from collections import OrderedDict
from typing import Optional, Sequence

import torch
import torch.nn as nn
import torch.utils.checkpoint as cp
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule
from torch.nn.modules.batchnorm import _BatchNorm

from .backbone import backbone_init_cfg, freeze


class ResidualBlock(nn.Module):
    """A block of the ResNet family: a residual branch that ends in the
    convolution ``last_conv`` (a ConvModule with a norm and no activation), an
    identity or projection ``shortcut``, and a ReLU after their sum.

    A subclass sets ``shortcut`` and ``relu`` after its convolutions (the
    official order of the weights) and ends ``forward`` with
    :meth:`add_shortcut`.
    """
    last_conv = 'conv3'

    @property
    def last_norm(self) -> nn.Module:
        """The norm that ends the residual branch (``zero_init_residual``)."""
        return getattr(self, self.last_conv).norm

    def add_shortcut(self, out: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.shortcut is None else self.shortcut(x)
        return self.relu(out + identity)


def build_stem(in_channels: int, stem_channels: int, deep_stem: bool,
               conv_cfg: Optional[dict], norm_cfg: dict) -> nn.Sequential:
    """The stride-4 stem: a 7×7 convolution, or three 3×3 convolutions
    (``deep_stem``, as in ResNet-D, Res2Net-v1b and ResNeSt), then max pooling.

    The deep stem's first two convolutions have half the width.
    """

    def conv(cin, cout, kernel, stride):
        return ConvModule(
            cin,
            cout,
            kernel,
            stride,
            padding=kernel // 2,
            bias=False,
            conv_cfg=conv_cfg,
            norm_cfg=norm_cfg)

    if deep_stem:
        mid = stem_channels // 2
        layers = [
            conv(in_channels, mid, 3, 2),
            conv(mid, mid, 3, 1),
            conv(mid, stem_channels, 3, 1)
        ]
    else:
        layers = [conv(in_channels, stem_channels, 7, 2)]
    return nn.Sequential(*layers,
                         nn.MaxPool2d(kernel_size=3, stride=2, padding=1))


def build_shortcut(in_channels: int, out_channels: int, stride: int,
                   avg_down: bool, conv_cfg: Optional[dict],
                   norm_cfg: dict) -> nn.Sequential:
    """Projection shortcut: a strided 1×1 convolution, or (``avg_down``)
    average pooling followed by a 1×1 convolution, which keeps the information
    a strided 1×1 convolution would skip."""
    layers = OrderedDict()
    if avg_down and stride != 1:
        layers['pool'] = nn.AvgPool2d(
            stride, stride, ceil_mode=True, count_include_pad=False)
        stride = 1
    layers['proj'] = ConvModule(
        in_channels,
        out_channels,
        1,
        stride,
        bias=False,
        conv_cfg=conv_cfg,
        norm_cfg=norm_cfg,
        act_cfg=None)
    return nn.Sequential(layers)


class ResLayer(nn.Sequential):
    """A stage of blocks; with ``with_cp`` each block's activations are
    recomputed in the backward pass instead of being stored."""

    def __init__(self, *blocks: nn.Module, with_cp: bool = False) -> None:
        super().__init__(*blocks)
        self.with_cp = with_cp

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self:
            if self.with_cp and x.requires_grad:
                x = cp.checkpoint(block, x, use_reentrant=False)
            else:
                x = block(x)
        return x


class ResNetBase(BaseModule):
    """Stem plus four stages of bottleneck blocks.

    Args:
        stage_blocks (Sequence[int]): Number of blocks in each stage.
        in_channels (int): Input image channels. Default: 3.
        stem_channels (int): Output channels of the stem. Default: 64.
        base_channels (int): ``planes`` of the first stage; each later stage
            doubles it, and a block outputs ``planes * expansion``.
            Default: 64.
        deep_stem (bool): Three 3×3 convolutions instead of the 7×7 one.
        avg_down (bool): Average-pool before the shortcut's 1×1 convolution.
        strides (Sequence[int]): Stride of each stage's first block.
        dilations (Sequence[int]): Dilation of each stage; (1, 1, 2, 4) with
            strides (1, 2, 1, 1) gives output stride 8 for segmentation.
        out_indices (Sequence[int]): Stages whose outputs are returned.
        frozen_stages (int): Stages (0 is the stem) whose parameters are
            frozen and whose norms stay in eval mode; -1 freezes nothing.
        conv_cfg (dict, optional): Convolution config. Default: None.
        norm_cfg (dict): Normalisation config. Default: BN.
        norm_eval (bool): Keep BatchNorm layers in eval mode while training,
            as detection and segmentation with small batches want.
        with_cp (bool): Gradient checkpointing, trading compute for memory.
        zero_init_residual (bool): Start every block's last norm at zero, so
            each residual block begins as the identity (Goyal et al.,
            "Accurate, Large Minibatch SGD", 2017). It steadies training from
            scratch, and OpenMMLab's own ResNets default to it; the official
            implementations of these backbones do not, hence False. Ignored
            when initialising from a checkpoint.
        pretrained (str, optional): Checkpoint to initialise from; mmseg's
            ``EncoderDecoder`` passes its ``pretrained`` here. Shorthand
            for ``init_cfg=dict(type='Pretrained', checkpoint=pretrained)``.
        init_cfg (dict or list[dict], optional): Initialisation config.
    """
    expansion = 4

    def __init__(self,
                 stage_blocks: Sequence[int],
                 in_channels: int = 3,
                 stem_channels: int = 64,
                 base_channels: int = 64,
                 deep_stem: bool = False,
                 avg_down: bool = False,
                 strides: Sequence[int] = (1, 2, 2, 2),
                 dilations: Sequence[int] = (1, 1, 1, 1),
                 out_indices: Sequence[int] = (0, 1, 2, 3),
                 frozen_stages: int = -1,
                 conv_cfg: Optional[dict] = None,
                 norm_cfg: dict = dict(type='BN', requires_grad=True),
                 norm_eval: bool = False,
                 with_cp: bool = False,
                 zero_init_residual: bool = False,
                 pretrained: Optional[str] = None,
                 init_cfg=None) -> None:
        init_cfg = backbone_init_cfg(pretrained, init_cfg, [
            dict(
                type='Kaiming',
                layer='Conv2d',
                mode='fan_out',
                nonlinearity='relu'),
            dict(type='Constant', val=1, layer=['_BatchNorm', 'GroupNorm'])
        ])
        super().__init__(init_cfg=init_cfg)
        num_stages = len(stage_blocks)
        if not (len(strides) == len(dilations) == num_stages):
            raise ValueError(
                f'strides {tuple(strides)} and dilations {tuple(dilations)} '
                f'need one entry per stage ({num_stages} stages)')
        if any(not 0 <= i < num_stages for i in out_indices):
            raise ValueError(f'out_indices {tuple(out_indices)} must lie in '
                             f'[0, {num_stages})')
        if not -1 <= frozen_stages <= num_stages:
            raise ValueError(f'frozen_stages={frozen_stages} must lie in '
                             f'[-1, {num_stages}]')
        self.out_indices = tuple(out_indices)
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        self.zero_init_residual = zero_init_residual

        self.stem = build_stem(in_channels, stem_channels, deep_stem, conv_cfg,
                               norm_cfg)
        inplanes = stem_channels
        self.res_layers = []
        for i, num_blocks in enumerate(stage_blocks):
            planes = base_channels * 2**i
            outplanes = planes * self.expansion
            blocks = []
            for j in range(num_blocks):
                stride = strides[i] if j == 0 else 1
                shortcut = None
                if j == 0 and (stride != 1 or inplanes != outplanes):
                    shortcut = build_shortcut(inplanes, outplanes, stride,
                                              avg_down, conv_cfg, norm_cfg)
                blocks.append(
                    self.make_block(
                        inplanes,
                        planes,
                        stage=i,
                        index=j,
                        stride=stride,
                        dilation=dilations[i],
                        shortcut=shortcut,
                        conv_cfg=conv_cfg,
                        norm_cfg=norm_cfg))
                inplanes = outplanes
            name = f'layer{i + 1}'
            self.add_module(name, ResLayer(*blocks, with_cp=with_cp))
            self.res_layers.append(name)
        self.out_channels = tuple(base_channels * 2**i * self.expansion
                                  for i in self.out_indices)
        freeze(self._frozen_modules())

    def make_block(self, inplanes: int, planes: int, *, stage: int, index: int,
                   stride: int, dilation: int, shortcut: Optional[nn.Module],
                   conv_cfg: Optional[dict], norm_cfg: dict) -> nn.Module:
        """Build block ``index`` of stage ``stage`` (both from 0); subclasses
        define their block."""
        raise NotImplementedError

    def init_weights(self) -> None:
        super().init_weights()
        from_checkpoint = isinstance(self.init_cfg, dict) and \
            self.init_cfg.get('type') == 'Pretrained'
        if self.zero_init_residual and not from_checkpoint:
            for name in self.res_layers:
                for block in getattr(self, name):
                    nn.init.zeros_(block.last_norm.weight)

    def _frozen_modules(self):
        if self.frozen_stages >= 0:
            yield self.stem
        for i in range(1, self.frozen_stages + 1):
            yield getattr(self, f'layer{i}')

    def forward(self, x: torch.Tensor) -> tuple:
        x = self.stem(x)
        outs = []
        for i, name in enumerate(self.res_layers):
            x = getattr(self, name)(x)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)

    def train(self, mode: bool = True) -> 'ResNetBase':
        super().train(mode)
        freeze(self._frozen_modules())
        if mode and self.norm_eval:
            for m in self.modules():
                if isinstance(m, _BatchNorm):
                    m.eval()
        return self
