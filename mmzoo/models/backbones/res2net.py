"""Res2Net, Res2NeXt and Res2Net-v1b.

Gao et al., "Res2Net: A New Multi-scale Backbone Architecture", TPAMI 2019.
Follows the official implementation (github Res2Net/Res2Net-PretrainedModels),
whose checkpoints ``tools/model_converters/res2net2mmzoo.py`` converts.
"""
from mmzoo.registry import MODELS
from ..utils import Bottle2neck, ResNetBase


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
