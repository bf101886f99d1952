"""ResNeXt.

Xie et al., "Aggregated Residual Transformations for Deep Neural Networks",
CVPR 2017. Follows torchvision's models (stride on the 3×3 convolution), whose
checkpoints ``tools/model_converters/resnext2mmzoo.py`` converts.
"""
from typing import Optional

import torch
import torch.nn as nn
from mmcv.cnn import ConvModule

from mmzoo.registry import MODELS
from ..utils import ResidualBlock, ResNetBase


class GroupedBottleneck(ResidualBlock):
    """1×1 reduce, grouped 3×3, 1×1 expand: ``groups`` parallel paths of
    ``base_width`` channels (for ``planes == 64``) aggregated by the last
    convolution.

    Args:
        inplanes (int): Input channels.
        planes (int): Bottleneck base; the block outputs ``4 * planes``.
        groups (int): Cardinality, the number of paths.
        base_width (int): Channels per path in the first stage.
        stride (int): Stride of the 3×3 convolution.
        dilation (int): Dilation of the 3×3 convolution.
        shortcut (nn.Module, optional): Projection of the identity path.
        conv_cfg (dict, optional): Convolution config.
        norm_cfg (dict): Normalisation config.
    """
    expansion = 4

    def __init__(self, inplanes: int, planes: int, groups: int,
                 base_width: int, stride: int, dilation: int,
                 shortcut: Optional[nn.Module], conv_cfg: Optional[dict],
                 norm_cfg: dict) -> None:
        super().__init__()
        width = int(planes * base_width / 64) * groups
        self.conv1 = ConvModule(
            inplanes,
            width,
            1,
            bias=False,
            conv_cfg=conv_cfg,
            norm_cfg=norm_cfg)
        self.conv2 = ConvModule(
            width,
            width,
            3,
            stride,
            padding=dilation,
            dilation=dilation,
            groups=groups,
            bias=False,
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
        return self.add_shortcut(self.conv3(self.conv2(self.conv1(x))), x)


@MODELS.register_module()
class ResNeXt(ResNetBase):
    """ResNeXt backbone.

    Xie et al., "Aggregated Residual Transformations for Deep Neural
    Networks", CVPR 2017.

    =================  =====  ======  ==========
    variant            depth  groups  base_width
    =================  =====  ======  ==========
    ResNeXt-50 32x4d   50     32      4
    ResNeXt-101 32x8d  101    32      8
    ResNeXt-101 64x4d  101    64      4
    =================  =====  ======  ==========

    Args:
        depth (int): 50, 101 or 152.
        groups (int): Cardinality. Default: 32.
        base_width (int): Channels per path in the first stage. Default: 4.
        **kwargs: The stem, stage, freezing, norm and init options of
            :class:`mmzoo.models.utils.ResNetBase` (``strides``,
            ``dilations``, ``out_indices``, ``frozen_stages``, ``norm_cfg``,
            ``norm_eval``, ``with_cp``, ``init_cfg``, ...).
    """
    arch_settings = {50: (3, 4, 6, 3), 101: (3, 4, 23, 3), 152: (3, 8, 36, 3)}

    def __init__(self,
                 depth: int,
                 groups: int = 32,
                 base_width: int = 4,
                 **kwargs) -> None:
        if depth not in self.arch_settings:
            raise KeyError(f'invalid depth {depth} for ResNeXt, choose from '
                           f'{sorted(self.arch_settings)}')
        self.groups = groups
        self.base_width = base_width
        super().__init__(self.arch_settings[depth], **kwargs)

    def make_block(self, inplanes, planes, *, stage, index, stride, dilation,
                   shortcut, conv_cfg, norm_cfg) -> GroupedBottleneck:
        return GroupedBottleneck(inplanes, planes, self.groups,
                                 self.base_width, stride, dilation, shortcut,
                                 conv_cfg, norm_cfg)
