"""Swin Transformer.

Liu et al., "Swin Transformer: Hierarchical Vision Transformer using Shifted
Windows", ICCV 2021. Follows the official implementation (github
microsoft/Swin-Transformer, models/swin_transformer.py, and the padding of its
detection and segmentation repositories), whose checkpoints
``tools/model_converters/swin2mmzoo.py`` converts. Window partition, shift
masks and window attention come from :mod:`mmzoo.ops`.
"""
from collections import OrderedDict
from typing import Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.utils.checkpoint as cp
from mmcv.cnn import build_norm_layer
from mmcv.cnn.bricks import DropPath
from mmcv.cnn.bricks.transformer import FFN
from mmengine.model import BaseModule
from mmengine.model.weight_init import trunc_normal_

from mmzoo.ops import (shift_window_mask, window_attention_qkv,
                       window_partition, window_reverse)
from mmzoo.registry import MODELS
from ..utils.backbone import backbone_init_cfg, freeze


def relative_position_index(window_size: int) -> torch.Tensor:
    """(N, N) index into the ``(2M-1)²``-row bias table for every pair of
    tokens of an M×M window (N = M²), in the official order: row offset
    times ``2M-1`` plus column offset, both shifted to be non-negative."""
    coords = torch.stack(
        torch.meshgrid(
            torch.arange(window_size),
            torch.arange(window_size),
            indexing='ij')).flatten(1)
    rel = (coords[:, :, None] - coords[:, None, :]) + (window_size - 1)
    return rel[0] * (2 * window_size - 1) + rel[1]


class PatchEmbed(nn.Module):
    """Split the image into ``patch_size``² patches and embed each linearly: a
    convolution whose kernel and stride are the patch size, then a norm. The
    image is zero-padded at the bottom and right to whole patches.

    Args:
        in_channels (int): Image channels.
        embed_dims (int): Embedding width.
        patch_size (int): Patch side.
        norm_cfg (dict): Norm after the embedding.
    """

    def __init__(self, in_channels: int, embed_dims: int, patch_size: int,
                 norm_cfg: dict) -> None:
        super().__init__()
        self.patch_size = patch_size
        self.proj = nn.Conv2d(
            in_channels, embed_dims, patch_size, stride=patch_size)
        self.norm = build_norm_layer(norm_cfg, embed_dims)[1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) image -> (B, H/p, W/p, embed_dims) tokens."""
        p = self.patch_size
        pad_h, pad_w = -x.shape[2] % p, -x.shape[3] % p
        if pad_h or pad_w:
            x = F.pad(x, (0, pad_w, 0, pad_h))
        return self.norm(self.proj(x).permute(0, 2, 3, 1))


class PatchMerging(nn.Module):
    """Halve the resolution: concatenate each 2×2 neighbourhood's tokens in the
    official order (top-left, bottom-left, top-right, bottom-right), normalise
    the 4C channels and project them to ``out_channels``. Odd sizes get zero
    padding at the bottom and right.

    Args:
        in_channels (int): C.
        out_channels (int): Output width (2C in Swin).
        norm_cfg (dict): Norm over the 4C concatenated channels.
    """

    def __init__(self, in_channels: int, out_channels: int,
                 norm_cfg: dict) -> None:
        super().__init__()
        self.norm = build_norm_layer(norm_cfg, 4 * in_channels)[1]
        self.reduction = nn.Linear(4 * in_channels, out_channels, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, H, W, C = x.shape
        if H % 2 or W % 2:
            x = F.pad(x, (0, 0, 0, W % 2, 0, H % 2))
            H, W = H + H % 2, W + W % 2
        # (B, H/2, dh, W/2, dw, C) -> (B, H/2, W/2, dw, dh, C): the official
        # order puts the row offset dh fastest.
        x = x.view(B, H // 2, 2, W // 2, 2, C).permute(0, 1, 3, 4, 2, 5)
        return self.reduction(self.norm(x.reshape(B, H // 2, W // 2, 4 * C)))


class WindowMSA(nn.Module):
    """Multi-head self-attention inside windows, with a learned bias per head
    and relative position.

    Args:
        embed_dims (int): Token width.
        num_heads (int): Attention heads.
        window_size (int): Window side M.
        qkv_bias (bool): Bias of the qkv projection.
    """

    def __init__(self, embed_dims: int, num_heads: int, window_size: int,
                 qkv_bias: bool) -> None:
        super().__init__()
        if embed_dims % num_heads:
            raise ValueError(f'embed_dims {embed_dims} is not divisible by '
                             f'num_heads {num_heads}')
        self.num_heads = num_heads
        self.num_tokens = window_size**2
        self.relative_position_bias_table = nn.Parameter(
            torch.zeros((2 * window_size - 1)**2, num_heads))
        trunc_normal_(self.relative_position_bias_table, std=.02)
        # Derived from the window size; official checkpoints carry their own
        # copy, which the converter checks and drops.
        self.register_buffer(
            'relative_position_index',
            relative_position_index(window_size).flatten(),
            persistent=False)
        self.qkv = nn.Linear(embed_dims, 3 * embed_dims, bias=qkv_bias)
        self.proj = nn.Linear(embed_dims, embed_dims)

    def position_bias(self) -> torch.Tensor:
        """(heads, N, N) bias gathered from the table; gathering from the
        transposed table yields it contiguous, with no permute copy."""
        N = self.num_tokens
        return self.relative_position_bias_table.t(
        )[:, self.relative_position_index].view(-1, N, N)

    def forward(self, windows: torch.Tensor,
                mask: Optional[torch.Tensor]) -> torch.Tensor:
        """(B·nW, N, C) tokens, mask (nW, N, N) or None -> (B·nW, N, C)."""
        out = window_attention_qkv(
            self.qkv(windows),
            self.num_heads,
            bias=self.position_bias(),
            mask=mask)
        return self.proj(out)


class SwinBlock(nn.Module):
    """Pre-norm transformer block over (shifted) windows: W-MSA or SW-MSA, then
    an MLP, each with a residual connection and drop path.

    Args:
        embed_dims (int): Token width.
        num_heads (int): Attention heads.
        window_size (int): Window side M.
        mlp_ratio (float): MLP hidden width over ``embed_dims``.
        qkv_bias (bool): Bias of the qkv projection.
        drop_path (float): Drop path rate of both residual branches.
        act_cfg (dict): MLP activation.
        norm_cfg (dict): Norm config.
    """

    def __init__(self, embed_dims: int, num_heads: int, window_size: int,
                 mlp_ratio: float, qkv_bias: bool, drop_path: float,
                 act_cfg: dict, norm_cfg: dict) -> None:
        super().__init__()
        self.window_size = window_size
        self.norm1 = build_norm_layer(norm_cfg, embed_dims)[1]
        self.attn = WindowMSA(embed_dims, num_heads, window_size, qkv_bias)
        self.drop_path = DropPath(drop_path) if drop_path > 0 \
            else nn.Identity()
        self.norm2 = build_norm_layer(norm_cfg, embed_dims)[1]
        self.ffn = FFN(
            embed_dims,
            int(embed_dims * mlp_ratio),
            num_fcs=2,
            act_cfg=act_cfg,
            dropout_layer=dict(type='DropPath', drop_prob=drop_path)
            if drop_path > 0 else None)

    def attend(self, x: torch.Tensor, shift_size: int,
               mask: Optional[torch.Tensor]) -> torch.Tensor:
        """(Shifted) window attention of normalised (B, H, W, C) tokens.

        A method of its own so that the windows die with it: held in
        ``forward`` they would stay alive through the MLP, the block's peak of
        memory.
        """
        H, W = x.shape[1:3]
        windows = window_partition(x, self.window_size, shift_size)
        return window_reverse(
            self.attn(windows, mask), self.window_size, shift_size, H, W)

    def forward(self, x: torch.Tensor, shift_size: int,
                mask: Optional[torch.Tensor]) -> torch.Tensor:
        """(B, H, W, C) -> (B, H, W, C); ``mask`` is the shift mask of the
        padded map when ``shift_size`` > 0."""
        x = x + self.drop_path(self.attend(self.norm1(x), shift_size, mask))
        return self.ffn(self.norm2(x), identity=x)


class SwinStage(nn.Module):
    """Blocks alternating W-MSA and SW-MSA (shift ⌊M/2⌋), then optional patch
    merging.

    The official classifier neither shifts nor masks a map that fits in one
    window (Swin-T's last stage at 224²): shifting would only cut the
    window into regions that cannot see each other. The same rule holds
    here at any input size. (mmseg and mmdet shift anyway; on inputs whose
    last stage exceeds one window, >224² as in every detection and
    segmentation setting, the two agree.)

    Args:
        depth (int): Number of blocks.
        drop_paths (Sequence[float]): Each block's drop path rate.
        downsample (nn.Module, optional): Patch merging after the blocks.
        with_cp (bool): Recompute each block's activations in backward.
        **block_kwargs: :class:`SwinBlock` arguments except ``drop_path``.
    """

    def __init__(self, depth: int, drop_paths: Sequence[float],
                 downsample: Optional[nn.Module], with_cp: bool,
                 **block_kwargs) -> None:
        super().__init__()
        self.window_size = block_kwargs['window_size']
        self.blocks = nn.ModuleList(
            SwinBlock(drop_path=drop_paths[i], **block_kwargs)
            for i in range(depth))
        self.downsample = downsample
        self.with_cp = with_cp
        self._masks = OrderedDict()  # (Hp, Wp, device) -> mask

    # Masks of the last few padded sizes: a multi-scale test's handful of
    # sizes stays cached, while random-size training, which meets new sizes
    # all the time, cannot grow the cache without bound.
    MASK_CACHE_SIZE = 8

    def shift_mask(self, H: int, W: int, device: torch.device) -> torch.Tensor:
        """The (nW, N, N) mask of the padded H×W map, kept for the
        ``MASK_CACHE_SIZE`` sizes and devices used last."""
        M = self.window_size
        Hp, Wp = -(-H // M) * M, -(-W // M) * M
        key = (Hp, Wp, device)
        if key in self._masks:
            self._masks.move_to_end(key)
        else:
            self._masks[key] = shift_window_mask(Hp, Wp, M, M // 2, device)
            if len(self._masks) > self.MASK_CACHE_SIZE:
                self._masks.popitem(last=False)
        return self._masks[key]

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """(B, H, W, C) -> (stage output before merging, merged tokens)."""
        H, W = x.shape[1:3]
        shift = self.window_size // 2 if max(H, W) > self.window_size else 0
        mask = self.shift_mask(H, W, x.device) if shift else None
        for i, block in enumerate(self.blocks):
            args = (shift, mask) if i % 2 else (0, None)
            if self.with_cp and x.requires_grad:
                x = cp.checkpoint(block, x, *args, use_reentrant=False)
            else:
                x = block(x, *args)
        merged = self.downsample(x) if self.downsample is not None else x
        return x, merged


@MODELS.register_module()
class SwinTransformer(BaseModule):
    """Swin Transformer backbone.

    Liu et al., "Swin Transformer: Hierarchical Vision Transformer using
    Shifted Windows", ICCV 2021.

    =======  ==========  =============  ===============  ========  =====
    arch     embed_dims  depths         num_heads        params*   FLOPs
    =======  ==========  =============  ===============  ========  =====
    tiny     96          2, 2, 6, 2     3, 6, 12, 24     28.3M     4.5G
    small    96          2, 2, 18, 2    3, 6, 12, 24     49.6M     8.7G
    base     128         2, 2, 18, 2    4, 8, 16, 32     87.8M     15.4G
    large    192         2, 2, 18, 2    6, 12, 24, 48    196.5M    34.5G
    =======  ==========  =============  ===============  ========  =====

    \\* ImageNet-1k classifier (this backbone with ``out_indices=(3, )``,
    global average pooling and a linear head), as the official models.

    Any input size works: the image is padded to whole patches, every
    window attention pads its map to whole windows and crops back, and
    patch merging pads odd sizes. Each returned stage is normalised by its
    own ``norm{i}`` and returned as an NCHW map; ``norm3`` is the official
    classifier's final norm.

    Args:
        arch (str | dict): 'tiny', 'small', 'base', 'large', or a dict with
            ``embed_dims``, ``depths`` and ``num_heads``.
        in_channels (int): Image channels. Default: 3.
        patch_size (int): Side of the patches embedded by the stem.
            Default: 4.
        window_size (int): Window side M. Default: 7.
        mlp_ratio (float): MLP hidden width over the token width.
            Default: 4.
        qkv_bias (bool): Bias of the qkv projections. Default: True.
        drop_path_rate (float): Stochastic depth rate, rising linearly from
            0 over the blocks to this value. Default: 0.1.
        out_indices (Sequence[int]): Stages whose outputs are returned.
        frozen_stages (int): -1 freezes nothing, 0 the patch embedding, i
            also stages 0..i-1 with their output norms.
        act_cfg (dict): MLP activation. Default: GELU.
        norm_cfg (dict): Norm config. Default: LayerNorm.
        with_cp (bool): Gradient checkpointing per block.
        pretrained (str, optional): Shorthand for
            ``init_cfg=dict(type='Pretrained', checkpoint=pretrained)``.
        init_cfg (dict | list[dict], optional): Initialisation; by default
            truncated normal (std 0.02) linear weights and unit LayerNorms,
            as the official code.

    Example:
        >>> import torch
        >>> from mmzoo.models import SwinTransformer
        >>> model = SwinTransformer('tiny').eval()
        >>> [o.shape[1:] for o in model(torch.rand(1, 3, 97, 131))]
        [torch.Size([96, 25, 33]), torch.Size([192, 13, 17]),
         torch.Size([384, 7, 9]), torch.Size([768, 4, 5])]
    """
    arch_settings = {
        'tiny':
        dict(embed_dims=96, depths=(2, 2, 6, 2), num_heads=(3, 6, 12, 24)),
        'small':
        dict(embed_dims=96, depths=(2, 2, 18, 2), num_heads=(3, 6, 12, 24)),
        'base':
        dict(embed_dims=128, depths=(2, 2, 18, 2), num_heads=(4, 8, 16, 32)),
        'large':
        dict(embed_dims=192, depths=(2, 2, 18, 2), num_heads=(6, 12, 24, 48)),
    }

    def __init__(self,
                 arch: Union[str, dict] = 'tiny',
                 in_channels: int = 3,
                 patch_size: int = 4,
                 window_size: int = 7,
                 mlp_ratio: float = 4.,
                 qkv_bias: bool = True,
                 drop_path_rate: float = 0.1,
                 out_indices: Sequence[int] = (0, 1, 2, 3),
                 frozen_stages: int = -1,
                 act_cfg: dict = dict(type='GELU'),
                 norm_cfg: dict = dict(type='LN'),
                 with_cp: bool = False,
                 pretrained: Optional[str] = None,
                 init_cfg=None) -> None:
        init_cfg = backbone_init_cfg(pretrained, init_cfg, [
            dict(type='TruncNormal', layer='Linear', std=.02, bias=0.),
            dict(type='Constant', layer='LayerNorm', val=1., bias=0.)
        ])
        super().__init__(init_cfg=init_cfg)
        arch = self._arch(arch)
        depths, num_heads = arch['depths'], arch['num_heads']
        num_stages = len(depths)
        if any(not 0 <= i < num_stages for i in out_indices):
            raise ValueError(f'out_indices {tuple(out_indices)} must lie in '
                             f'[0, {num_stages})')
        if not -1 <= frozen_stages <= num_stages:
            raise ValueError(f'frozen_stages={frozen_stages} must lie in '
                             f'[-1, {num_stages}]')
        self.out_indices = tuple(out_indices)
        self.frozen_stages = frozen_stages
        dims = [arch['embed_dims'] * 2**i for i in range(num_stages)]
        self.out_channels = tuple(dims[i] for i in self.out_indices)

        self.patch_embed = PatchEmbed(in_channels, dims[0], patch_size,
                                      norm_cfg)
        n = sum(depths)
        rates = [drop_path_rate * i / max(n - 1, 1) for i in range(n)]
        self.stages = nn.ModuleList()
        for i, depth in enumerate(depths):
            downsample = PatchMerging(dims[i], dims[i + 1], norm_cfg) \
                if i < num_stages - 1 else None
            first = sum(depths[:i])
            self.stages.append(
                SwinStage(
                    depth,
                    rates[first:first + depth],
                    downsample,
                    with_cp,
                    embed_dims=dims[i],
                    num_heads=num_heads[i],
                    window_size=window_size,
                    mlp_ratio=mlp_ratio,
                    qkv_bias=qkv_bias,
                    act_cfg=act_cfg,
                    norm_cfg=norm_cfg))
        for i in self.out_indices:
            self.add_module(f'norm{i}', build_norm_layer(norm_cfg, dims[i])[1])
        freeze(self._frozen_modules())

    def _arch(self, arch: Union[str, dict]) -> dict:
        if isinstance(arch, str):
            if arch not in self.arch_settings:
                raise KeyError(f'invalid arch {arch!r} for SwinTransformer, '
                               f'choose from {sorted(self.arch_settings)}')
            return self.arch_settings[arch]
        missing = {'embed_dims', 'depths', 'num_heads'} - set(arch)
        if missing:
            raise KeyError(f'arch dict lacks {sorted(missing)}')
        if len(arch['depths']) != len(arch['num_heads']):
            raise ValueError(f'arch depths {arch["depths"]} and num_heads '
                             f'{arch["num_heads"]} differ in length')
        return arch

    def _frozen_modules(self):
        if self.frozen_stages >= 0:
            yield self.patch_embed
        for i in range(self.frozen_stages):
            yield self.stages[i]
            if i in self.out_indices:
                yield getattr(self, f'norm{i}')

    def forward(self, x: torch.Tensor) -> tuple:
        x = self.patch_embed(x)
        outs = []
        for i, stage in enumerate(self.stages):
            out, x = stage(x)
            if i in self.out_indices:
                out = getattr(self, f'norm{i}')(out)
                outs.append(out.permute(0, 3, 1, 2).contiguous())
        return tuple(outs)

    def train(self, mode: bool = True) -> 'SwinTransformer':
        super().train(mode)
        freeze(self._frozen_modules())
        return self
