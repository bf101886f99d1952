"""T2Net: joint MRI reconstruction and super-resolution.

Feng, Yan, Fu, Chen and Xu, "Task Transformer Network for Joint MRI
Reconstruction and Super-Resolution", MICCAI 2021 (github
chunmeifeng/T2Net, models/T2net.py and ixi_module_t2net.py). From the
zero-filled image of undersampled low-resolution k-space, a reconstruction
branch restores the fully sampled low-resolution image and a
super-resolution branch the high-resolution one; after every residual block
a task transformer moves the reconstruction branch's texture into the
super-resolution branch.
"""
from typing import Dict, List, Optional, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModel
from mmengine.structures import BaseDataElement

from mmzoo.registry import MODELS
from ..utils.edsr_block import EDSRResBlock
from ..utils.task_transformer import DEFAULT_TILE_ELEMENTS, TaskTransformer


def pixel_shuffle_upsampler(channels: int, scale: int) -> nn.Sequential:
    """EDSR's upsampler: (3×3 conv to 4·C, pixel shuffle ×2) per octave."""
    if scale < 2 or scale & (scale - 1):
        raise ValueError(f'T2Net upsamples by a power of 2, got {scale}')
    layers = []
    for _ in range(scale.bit_length() - 1):
        layers += [
            nn.Conv2d(channels, 4 * channels, 3, padding=1),
            nn.PixelShuffle(2)
        ]
    return nn.Sequential(*layers)


@MODELS.register_module()
class T2Net(BaseModel):
    """Task Transformer Network.

    Both branches start with a 5×5 head convolution of the input and run
    ``num_blocks`` EDSR residual blocks side by side; after each block a
    :class:`~mmzoo.models.utils.task_transformer.TaskTransformer` (queries
    from the super-resolution features, keys and values from the
    reconstruction features) updates the super-resolution features. Each
    branch adds its head's output back (a global residual); the
    reconstruction branch ends in a 1×1 convolution, the super-resolution
    branch in a pixel-shuffle upsampler and a 3×3 convolution.

    ``forward(mode='loss')`` returns ``loss_sr = sr_weight · L1(SR, gt_hr)``
    and ``loss_recon = recon_weight · L1(recon, gt_lr)`` (0.8 and 0.2 as
    official); ``mode='predict'`` adds ``pred_sr`` (C, H, W) and
    ``pred_recon`` (C, h, w) to each data sample, in the units of its
    ``gt_hr`` and ``gt_lr``; ``mode='tensor'`` returns ``(sr, recon)``.

    Args:
        scale (int): Super-resolution factor, a power of 2.
        in_channels (int): Input channels. Defaults to 1.
        out_channels (int): Output channels of both branches. Defaults to 1.
        channels (int): Feature channels. Defaults to 64.
        num_blocks (int): Residual blocks per branch, each followed by a
            task transformer. Defaults to 8 (the official IXI model).
        res_scale (float): EDSR's residual scaling. Defaults to 0.1.
        head_kernel_size (int): Kernel of the head convolutions. Defaults
            to 5.
        with_transformer (bool): False removes the task transformers (the
            two branches then run independently: the ablation of the
            paper). Defaults to True.
        sr_weight (float): Weight of the super-resolution L1 loss.
        recon_weight (float): Weight of the reconstruction L1 loss.
        tile_elements (int): Relevances each task transformer holds at
            once (see :func:`~mmzoo.models.utils.task_transformer.
            hard_patch_attention`).
        data_preprocessor (dict, optional): Defaults to
            :class:`~mmzoo.models.data_preprocessors.MRIDataPreprocessor`.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 scale: int,
                 in_channels: int = 1,
                 out_channels: int = 1,
                 channels: int = 64,
                 num_blocks: int = 8,
                 res_scale: float = 0.1,
                 head_kernel_size: int = 5,
                 with_transformer: bool = True,
                 sr_weight: float = 0.8,
                 recon_weight: float = 0.2,
                 tile_elements: int = DEFAULT_TILE_ELEMENTS,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        if data_preprocessor is None:
            data_preprocessor = dict(type='mmzoo.MRIDataPreprocessor')
        super().__init__(
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.scale = scale
        self.sr_weight = sr_weight
        self.recon_weight = recon_weight
        pad = head_kernel_size // 2
        self.sr_head = nn.Conv2d(
            in_channels, channels, head_kernel_size, padding=pad)
        self.recon_head = nn.Conv2d(
            in_channels, channels, head_kernel_size, padding=pad)
        self.sr_blocks = nn.ModuleList(
            EDSRResBlock(channels, res_scale=res_scale)
            for _ in range(num_blocks))
        self.recon_blocks = nn.ModuleList(
            EDSRResBlock(channels, res_scale=res_scale)
            for _ in range(num_blocks))
        self.transformers = nn.ModuleList(
            TaskTransformer(channels, tile_elements)
            for _ in range(num_blocks)) if with_transformer else None
        self.sr_tail = nn.Sequential(
            pixel_shuffle_upsampler(channels, scale),
            nn.Conv2d(channels, out_channels, 3, padding=1))
        self.recon_tail = nn.Conv2d(channels, out_channels, 1)

    def _forward(self, inputs: torch.Tensor):
        """The super-resolved and the reconstructed images, (N, C, H, W) and
        (N, C, h, w)."""
        sr_head = self.sr_head(inputs)
        recon_head = self.recon_head(inputs)
        sr, recon = sr_head, recon_head
        for i, (sr_block, recon_block) in enumerate(
                zip(self.sr_blocks, self.recon_blocks)):
            sr, recon = sr_block(sr), recon_block(recon)
            if self.transformers is not None:
                sr = self.transformers[i](sr, recon)
        return (self.sr_tail(sr + sr_head),
                self.recon_tail(recon + recon_head))

    def _targets(self, data_samples: List[BaseDataElement], name: str,
                 like: torch.Tensor) -> torch.Tensor:
        try:
            target = torch.stack(
                [torch.as_tensor(s.get(name)) for s in data_samples])
        except (TypeError, RuntimeError) as e:
            raise ValueError(
                f'T2Net needs the data field {name!r} of one shape in every '
                f'data sample of a training batch: {e}') from None
        if target.shape != like.shape:
            raise ValueError(
                f'T2Net: {name} of the batch has shape {tuple(target.shape)},'
                f' the output {tuple(like.shape)} (scale {self.scale})')
        return target.to(like)

    def forward(self,
                inputs: torch.Tensor,
                data_samples: Optional[List[BaseDataElement]] = None,
                mode: str = 'tensor') -> Union[Dict, list, tuple]:
        sr, recon = self._forward(inputs)
        if mode == 'tensor':
            return sr, recon
        if mode == 'loss':
            gt_hr = self._targets(data_samples, 'gt_hr', sr)
            gt_lr = self._targets(data_samples, 'gt_lr', recon)
            return dict(
                loss_sr=self.sr_weight * F.l1_loss(sr, gt_hr),
                loss_recon=self.recon_weight * F.l1_loss(recon, gt_lr))
        if mode == 'predict':
            if data_samples is None:
                data_samples = [BaseDataElement() for _ in range(len(sr))]
            for sample, pred_sr, pred_recon in zip(data_samples, sr, recon):
                sample.pred_sr = pred_sr.float()
                sample.pred_recon = pred_recon.float()
            return data_samples
        raise ValueError(f"T2Net: mode must be 'loss', 'predict' or "
                         f"'tensor', got {mode!r}")
