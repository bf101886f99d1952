"""ResNet-18/34 with basic blocks and an optional multi-grid last stage.

He et al., "Deep Residual Learning for Image Recognition", CVPR 2016. The
multi-grid last stage is the feature extractor of STANet (Chen and Shi, "A
Spatial-Temporal Attention-Based Method and a New Dataset for Remote Sensing
Image Change Detection", Remote Sensing 2020; github justchenhao/STANet,
models/mynet3.py).
"""
from typing import Optional, Sequence

import torch
import torch.nn as nn
from mmcv.cnn import ConvModule

from mmzoo.registry import MODELS
from ..utils import ResidualBlock, ResNetBase


class BasicBlock(ResidualBlock):
    """Two 3×3 convolutions and a residual connection.

    Only the first convolution carries the stride and the dilation; the
    second is a plain 3×3 convolution, as in torchvision and in STANet's
    backbone (whose multi-grid dilations therefore act on one convolution
    per block).

    Args:
        inplanes (int): Input channels.
        planes (int): Output channels.
        stride (int): Stride of the first convolution.
        dilation (int): Dilation of the first convolution.
        shortcut (nn.Module, optional): Projection of the identity path.
        conv_cfg (dict, optional): Convolution config.
        norm_cfg (dict): Normalisation config.
    """
    expansion = 1
    last_conv = 'conv2'

    def __init__(self, inplanes: int, planes: int, stride: int, dilation: int,
                 shortcut: Optional[nn.Module], conv_cfg: Optional[dict],
                 norm_cfg: dict) -> None:
        super().__init__()
        self.conv1 = ConvModule(
            inplanes,
            planes,
            3,
            stride,
            padding=dilation,
            dilation=dilation,
            bias=False,
            conv_cfg=conv_cfg,
            norm_cfg=norm_cfg)
        self.conv2 = ConvModule(
            planes,
            planes,
            3,
            padding=1,
            bias=False,
            conv_cfg=conv_cfg,
            norm_cfg=norm_cfg,
            act_cfg=None)
        self.shortcut = shortcut
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.add_shortcut(self.conv2(self.conv1(x)), x)


@MODELS.register_module()
class ResNet(ResNetBase):
    """ResNet-18/34 of basic blocks; optionally a multi-grid last stage.

    With ``multi_grid`` the last stage has one block per entry, block ``i``
    dilated ``dilations[-1] * multi_grid[i]`` (DeepLabv3's multi-grid).
    STANet's ResNet-18 uses ``multi_grid=(1, 2, 4)`` with output stride 32
    (strides (1, 2, 2, 2), dilations (1, 1, 1, 1)): its last stage has
    three blocks dilated 1, 2 and 4, and the first of them still has
    stride 2. (STANet's code builds the backbone with ``output_stride=32``
    in ``backbone.define_F``; the dilated output-stride-8 setting of its
    ResNet class is not used.)

    Args:
        depth (int): 18 or 34.
        multi_grid (Sequence[int], optional): Dilation multipliers of the
            last stage's blocks; their number replaces that stage's depth.
        **kwargs: The stage, freezing, norm and init options of
            :class:`mmzoo.models.utils.ResNetBase` (``strides``,
            ``dilations``, ``out_indices``, ``frozen_stages``, ``norm_cfg``,
            ``norm_eval``, ``with_cp``, ``init_cfg``, ...).

    Example:
        >>> import torch
        >>> from mmzoo.models import ResNet
        >>> model = ResNet(depth=18, multi_grid=(1, 2, 4)).eval()
        >>> [o.shape[1:] for o in model(torch.rand(1, 3, 64, 64))]
        [torch.Size([64, 16, 16]), torch.Size([128, 8, 8]),
         torch.Size([256, 4, 4]), torch.Size([512, 2, 2])]
    """
    expansion = BasicBlock.expansion
    arch_settings = {18: (2, 2, 2, 2), 34: (3, 4, 6, 3)}

    def __init__(self,
                 depth: int,
                 multi_grid: Optional[Sequence[int]] = None,
                 **kwargs) -> None:
        if depth not in self.arch_settings:
            raise KeyError(f'invalid depth {depth} for ResNet, choose from '
                           f'{sorted(self.arch_settings)}')
        stage_blocks = list(self.arch_settings[depth])
        if multi_grid is not None:
            if len(multi_grid) == 0:
                raise ValueError('multi_grid needs at least one entry')
            stage_blocks[-1] = len(multi_grid)
        self.multi_grid = None if multi_grid is None else tuple(multi_grid)
        self.last_stage = len(stage_blocks) - 1
        super().__init__(stage_blocks, **kwargs)

    def make_block(self, inplanes, planes, *, stage, index, stride, dilation,
                   shortcut, conv_cfg, norm_cfg) -> BasicBlock:
        if self.multi_grid is not None and stage == self.last_stage:
            dilation = dilation * self.multi_grid[index]
        return BasicBlock(inplanes, planes, stride, dilation, shortcut,
                          conv_cfg, norm_cfg)
