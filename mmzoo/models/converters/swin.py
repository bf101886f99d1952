"""Official Swin Transformer -> mmzoo.SwinTransformer, and mmzoo's Swin keys ->
mmseg's.

The official release (github microsoft/Swin-Transformer) ships
``{'model': state_dict}``; its training checkpoints add optimizer,
scheduler and config entries, which are dropped. The architecture (width,
depths, heads, window and patch size) is read from the weights; keys are
renamed to mmzoo's layout (the official patch merging closes stage i, as
ours does; the final norm becomes the last stage's output norm). The
official ``relative_position_index`` and ``attn_mask`` buffers are checked
against what mmzoo derives from the window size, then dropped.
"""
import math
from collections import OrderedDict

import torch

from mmzoo.ops import shift_window_mask
from mmzoo.utils.converter import (ConversionError, extract_state_dict,
                                   key_shape, rename_and_check)
from ..backbones.swin import SwinTransformer, relative_position_index

_BUFFERS = ('relative_position_index', 'attn_mask')

# (official key pattern, mmzoo key template); the first match wins.
OFFICIAL_RULES = [
    (r'^patch_embed\.(proj|norm)\.(\w+)$', r'backbone.patch_embed.\1.\2'),
    (r'^layers\.(\d+)\.blocks\.(\d+)\.mlp\.fc1\.(\w+)$',
     r'backbone.stages.\1.blocks.\2.ffn.layers.0.0.\3'),
    (r'^layers\.(\d+)\.blocks\.(\d+)\.mlp\.fc2\.(\w+)$',
     r'backbone.stages.\1.blocks.\2.ffn.layers.1.\3'),
    (r'^layers\.(\d+)\.blocks\.(\d+)\.(norm1|norm2)\.(\w+)$',
     r'backbone.stages.\1.blocks.\2.\3.\4'),
    (r'^layers\.(\d+)\.blocks\.(\d+)\.attn\.relative_position_bias_table$',
     r'backbone.stages.\1.blocks.\2.attn.relative_position_bias_table'),
    (r'^layers\.(\d+)\.blocks\.(\d+)\.attn\.(qkv|proj)\.(\w+)$',
     r'backbone.stages.\1.blocks.\2.attn.\3.\4'),
    (r'^layers\.(\d+)\.downsample\.(norm|reduction)\.(\w+)$',
     r'backbone.stages.\1.downsample.\2.\3'),
    (r'^head\.(\w+)$', r'head.fc.\1'),
]


def infer_arch(state_dict: dict) -> dict:
    """Read the Swin variant off the official weights."""

    def shape(key):
        return key_shape(state_dict, key, 'Swin Transformer')

    embed_dims, _, patch_size, _ = shape('patch_embed.proj.weight')
    depths, num_heads = [], []
    while f'layers.{len(depths)}.blocks.0.norm1.weight' in state_dict:
        i = len(depths)
        depths.append(
            len({
                k.split('.')[3]
                for k in state_dict if k.startswith(f'layers.{i}.blocks.')
            }))
        num_heads.append(
            shape(f'layers.{i}.blocks.0.attn.relative_position_bias_table')[1])
    if not depths:
        raise ConversionError("missing key 'layers.0.blocks.0.norm1.weight':"
                              ' not an official Swin Transformer checkpoint')
    rows = shape('layers.0.blocks.0.attn.relative_position_bias_table')[0]
    window_size = (math.isqrt(rows) + 1) // 2
    if (2 * window_size - 1)**2 != rows:
        raise ConversionError(
            f'relative_position_bias_table has {rows} rows, not (2M-1)² for '
            'any window size M')
    arch = dict(
        embed_dims=embed_dims,
        depths=tuple(depths),
        num_heads=tuple(num_heads))
    name = next(
        (n for n, a in SwinTransformer.arch_settings.items() if a == arch),
        None)
    return dict(
        arch=name or arch,
        patch_size=patch_size,
        window_size=window_size,
        num_classes=shape('head.weight')[0],
        num_stages=len(depths))


def _is_shift_mask(mask: torch.Tensor, window_size: int, shift: int) -> bool:
    """Whether ``mask`` is the shift mask of a square map of whole windows (the
    official model builds it for its training size)."""
    N = window_size**2
    if mask.dim() != 3 or tuple(mask.shape[1:]) != (N, N):
        return False
    per_side = math.isqrt(mask.shape[0])
    if per_side**2 != mask.shape[0]:
        return False
    side = per_side * window_size
    return torch.equal(mask.float(),
                       shift_window_mask(side, side, window_size, shift))


def check_buffers(state_dict: dict, window_size: int) -> dict:
    """Validate and drop the official buffers: each must equal what mmzoo
    derives from the window size (so a checkpoint of another window layout is
    refused, naming the buffer); the rest of the dict is returned."""
    index = relative_position_index(window_size)
    shift = window_size // 2
    wrong = [
        key for key, value in state_dict.items()
        if key.endswith('relative_position_index')
        and not torch.equal(value.long(), index) or key.endswith('attn_mask')
        and not _is_shift_mask(value, window_size, shift)
    ]
    if wrong:
        raise ConversionError(
            f'buffers differ from a window-{window_size} Swin with shift '
            f'{shift}: ' + ', '.join(wrong))
    return OrderedDict(
        (k, v) for k, v in state_dict.items() if not k.endswith(_BUFFERS))


def convert_official_swin(checkpoint: dict) -> tuple:
    """Convert and verify an official Swin checkpoint (``{'model': state
    dict}`` with any other entries, or the state dict itself); returns (mmzoo
    classifier state dict, arch)."""
    state_dict = extract_state_dict(checkpoint)
    arch = infer_arch(state_dict)
    state_dict = check_buffers(state_dict, arch['window_size'])
    last = arch['num_stages'] - 1
    rules = OFFICIAL_RULES + [(r'^norm\.(\w+)$', rf'backbone.norm{last}.\1')]
    backbone = dict(
        type='mmzoo.SwinTransformer',
        arch=arch['arch'],
        patch_size=arch['patch_size'],
        window_size=arch['window_size'],
        out_indices=(last, ))
    width = key_shape(state_dict, 'patch_embed.proj.weight', 'Swin')[0]
    converted = rename_and_check(
        state_dict,
        rules,
        backbone,
        arch['num_classes'],
        in_channels=width * 2**last)
    return converted, arch


def swin_to_mmseg(state_dict: dict) -> dict:
    """mmzoo's backbone keys -> mmseg's SwinTransformer, for comparing the two
    with the same weights (tests, benchmarks/swin_backbone.py): the attention
    sits under ``w_msa``, the embedding is ``projection``, and patch merging
    (an nn.Unfold there) orders its 4C channels as (C, 2, 2) rather than the
    official (2 × 2 positions, C)."""
    out = {}
    for key, value in state_dict.items():
        key = key.replace('patch_embed.proj.', 'patch_embed.projection.')
        key = key.replace('.attn.', '.attn.w_msa.')
        if 'downsample.reduction' in key:
            o, i = value.shape
            value = value.reshape(o, 4, i // 4)[:, [0, 2, 1, 3]]
            value = value.transpose(1, 2).reshape(o, i)
        elif 'downsample.norm' in key:
            value = value.reshape(4, -1)[[0, 2, 1, 3]].t().reshape(-1)
        out[key] = value
    return out
