"""Res2Net, Res2NeXt and Res2Net-v1b.

Gao et al., "Res2Net: A New Multi-scale Backbone Architecture", TPAMI 2019.
Follows the official implementation (github Res2Net/Res2Net-PretrainedModels),
whose checkpoints ``tools/model_converters/res2net2mmzoo.py`` converts.
"""
import math
from typing import Optional

import torch
import torch.nn as nn
from mmcv.cnn import ConvModule

from mmzoo.registry import MODELS
from ..utils import ResidualBlock, ResNetBase


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


@MODELS.register_module()
class Res2Net(ResNetBase):
    """Res2Net backbone (also Res2NeXt and Res2Net-v1b).

    Gao et al., "Res2Net: A New Multi-scale Backbone Architecture", TPAMI
    2019.

    ==================  =====  ======  ==========  ======  =========
    variant             depth  scales  base_width  groups  v1b flags
    ==================  =====  ======  ==========  ======  =========
    Res2Net-50 26w4s    50     4       26          1       —
    Res2Net-50 48w2s    50     2       48          1       —
    Res2Net-50 14w8s    50     8       14          1       —
    Res2NeXt-50         50     4       4           8       —
    Res2Net-v1b-50      50     4       26          1       deep_stem, avg_down
    ==================  =====  ======  ==========  ======  =========

    Args:
        depth (int): 50, 101 or 152.
        scales (int): Splits per block. Default: 4.
        base_width (int): Split width for the first stage. Default: 26.
        groups (int): Groups of the split convolutions (Res2NeXt uses 8).
        deep_stem (bool): v1b's three-convolution stem. Default: False.
        avg_down (bool): v1b's average-pool shortcut. Default: False.
        **kwargs: The stage, freezing, norm and init options of
            :class:`mmzoo.models.utils.ResNetBase` (``strides``,
            ``dilations``, ``out_indices``, ``frozen_stages``, ``norm_cfg``,
            ``norm_eval``, ``with_cp``, ``init_cfg``, ...).

    Example:
        >>> import torch
        >>> from mmzoo.models import Res2Net
        >>> model = Res2Net(depth=50, out_indices=(0, 1, 2, 3)).eval()
        >>> [o.shape[1:] for o in model(torch.rand(1, 3, 64, 64))]
        [torch.Size([256, 16, 16]), torch.Size([512, 8, 8]),
         torch.Size([1024, 4, 4]), torch.Size([2048, 2, 2])]
    """
    arch_settings = {50: (3, 4, 6, 3), 101: (3, 4, 23, 3), 152: (3, 8, 36, 3)}

    def __init__(self,
                 depth: int,
                 scales: int = 4,
                 base_width: int = 26,
                 groups: int = 1,
                 deep_stem: bool = False,
                 avg_down: bool = False,
                 **kwargs) -> None:
        if depth not in self.arch_settings:
            raise KeyError(f'invalid depth {depth} for Res2Net, choose from '
                           f'{sorted(self.arch_settings)}')
        self.scales = scales
        self.base_width = base_width
        self.groups = groups
        super().__init__(
            self.arch_settings[depth],
            deep_stem=deep_stem,
            avg_down=avg_down,
            **kwargs)

    def make_block(self, inplanes, planes, *, stage, index, stride, dilation,
                   shortcut, conv_cfg, norm_cfg) -> Bottle2neck:
        return Bottle2neck(inplanes, planes, self.scales, self.base_width,
                           self.groups, stride, dilation, shortcut, index == 0,
                           conv_cfg, norm_cfg)
