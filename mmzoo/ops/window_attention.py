"""Fused multi-head self-attention inside windows (Swin Transformer).

Swin Transformer: Hierarchical Vision Transformer using Shifted Windows
(Liu et al., ICCV 2021, https://arxiv.org/abs/2103.14030).

``softmax(q k^T * scale + bias + mask) v`` for every window and head in one
kernel. The forward never writes the ``N x N`` attention matrix to memory: it
keeps each row's scores on chip and saves only the row log-sum-exp, from which
the backward recomputes the probabilities (as FlashAttention does).
"""
from typing import Optional

import torch

from ._library import MAX_HEAD_DIM, MAX_TOKENS, extension_supports


def window_attention_reference(q: torch.Tensor,
                               k: torch.Tensor,
                               v: torch.Tensor,
                               bias: Optional[torch.Tensor] = None,
                               mask: Optional[torch.Tensor] = None,
                               scale: Optional[float] = None) -> torch.Tensor:
    """Pure-PyTorch ``window_attention``; the tests' reference."""
    if scale is None:
        scale = q.shape[-1]**-0.5
    attn = (q * scale) @ k.transpose(-2, -1)
    if bias is not None:
        attn = attn + bias.unsqueeze(0)
    if mask is not None:
        BW, heads, N, _ = attn.shape
        attn = attn.view(-1, mask.shape[0], heads, N, N) + mask.unsqueeze(1)
        attn = attn.view(BW, heads, N, N)
    return attn.softmax(dim=-1) @ v


def _split_heads(qkv: torch.Tensor, num_heads: int):
    """q, k, v of shape (B*nW, heads, N, d), views of the packed qkv."""
    BW, N, C3 = qkv.shape
    return qkv.reshape(BW, N, 3, num_heads,
                       C3 // (3 * num_heads)).permute(2, 0, 3, 1, 4).unbind(0)


def _merge_heads(out: torch.Tensor) -> torch.Tensor:
    BW, heads, N, d = out.shape
    return out.transpose(1, 2).reshape(BW, N, heads * d)


def window_attention_qkv_reference(
        qkv: torch.Tensor,
        num_heads: int,
        bias: Optional[torch.Tensor] = None,
        mask: Optional[torch.Tensor] = None,
        scale: Optional[float] = None) -> torch.Tensor:
    """Pure-PyTorch ``window_attention_qkv``; the tests' reference."""
    q, k, v = _split_heads(qkv, num_heads)
    return _merge_heads(window_attention_reference(q, k, v, bias, mask, scale))


# The compiled ops whose multiply-adds window_attention_flop_jit counts.
WINDOW_ATTENTION_OPS = ('mmzoo::window_attention_fwd',
                        'mmzoo::window_attention_qkv_fwd')


def window_attention_flop_jit(inputs: list, outputs: list) -> int:
    """Multiply-adds of one ``window_attention`` or ``window_attention_qkv``
    for mmengine's FlopAnalyzer, which cannot see inside the compiled ops::

        for op in WINDOW_ATTENTION_OPS:
            analyzer.set_op_handle(op, window_attention_flop_jit)

    ``q k^T`` and ``attn v``, as its matmul handle counts them in a Swin
    built on plain matmuls (softmax, bias and mask count nothing there).
    """
    sizes = inputs[0].type().sizes()
    if len(sizes) == 3:  # qkv (B*nW, N, 3C): heads * d = C
        windows, tokens, channels = sizes
        return 2 * windows * tokens * tokens * channels // 3
    windows, heads, tokens, head_dim = sizes
    return 2 * windows * heads * tokens * tokens * head_dim


def _check_devices(ref_name, ref, **inputs) -> None:
    for name, t in inputs.items():
        if t is not None and t.device != ref.device:
            raise ValueError(f'window_attention: {name} is on {t.device} but '
                             f'{ref_name} is on {ref.device}; all inputs '
                             'must be on one device')


def _check_shapes(q, k, v, bias, mask) -> None:
    _check_devices('q', q, k=k, v=v, bias=bias, mask=mask)
    if q.dim() != 4:
        raise ValueError('window_attention expects q of shape '
                         f'(B*nW, heads, N, d), got {tuple(q.shape)}')
    if k.shape != q.shape or v.shape != q.shape:
        raise ValueError('window_attention expects q, k, v of one shape, got '
                         f'{tuple(q.shape)}, {tuple(k.shape)}, '
                         f'{tuple(v.shape)}')
    if q.dtype != k.dtype or q.dtype != v.dtype:
        raise ValueError('window_attention expects q, k, v of one dtype, got '
                         f'{q.dtype}, {k.dtype}, {v.dtype}')
    _check_bias_and_mask(*q.shape[:3], bias, mask)


def _check_bias_and_mask(BW, heads, N, bias, mask) -> None:
    if bias is not None and bias.shape != (heads, N, N):
        raise ValueError(f'window_attention expects bias of shape ({heads}, '
                         f'{N}, {N}), got {tuple(bias.shape)}')
    if mask is not None:
        if mask.dim() != 3 or mask.shape[1:] != (N, N):
            raise ValueError(f'window_attention expects mask of shape (nW, '
                             f'{N}, {N}), got {tuple(mask.shape)}')
        if BW % mask.shape[0]:
            raise ValueError(f'window_attention: q has {BW} windows, not a '
                             f'multiple of the mask\'s nW={mask.shape[0]}')


def _as_kernel_takes(bias, mask, x):
    """bias and mask as the kernels take them: contiguous, the mask in x's
    dtype and detached (it takes no gradient).

    The CUDA kernels take the bias in its own dtype and return its gradient in
    it: float32 under autocast, where a float16 gradient, summed over every
    window, would overflow under a GradScaler's scale. The CPU kernels (float32
    and float64) read it in x's dtype.
    """
    if bias is not None:
        if x.device.type != 'cuda':
            bias = bias.to(x.dtype)
        bias = bias.contiguous()
    if mask is not None:
        mask = mask.detach().to(x.dtype).contiguous()
    return bias, mask


def _common_layout(q, k, v):
    """q, k, v as the kernels take them: one layout, contiguous channels.

    Slices of one qkv projection (Swin's ``qkv.permute(...).unbind(0)``)
    already qualify and are used in place, without copies.
    """
    if q.stride(-1) == 1 and k.stride() == q.stride() == v.stride():
        return q, k, v
    return q.contiguous(), k.contiguous(), v.contiguous()


def window_attention(q: torch.Tensor,
                     k: torch.Tensor,
                     v: torch.Tensor,
                     bias: Optional[torch.Tensor] = None,
                     mask: Optional[torch.Tensor] = None,
                     scale: Optional[float] = None) -> torch.Tensor:
    """Attention of every window and head, fused in one kernel.

    Args:
        q (Tensor): Queries ``(B * nW, heads, N, d)``.
        k (Tensor): Keys, same shape.
        v (Tensor): Values, same shape.
        bias (Tensor, optional): ``(heads, N, N)`` added to the scores of
            every window (the relative position bias); gets a gradient, in
            its own dtype (float32 for a float32 parameter under autocast).
        mask (Tensor, optional): ``(nW, N, N)``; window ``w`` adds
            ``mask[w % nW]`` (the shifted-window mask); never differentiated.
        scale (float, optional): Score scale. Default: ``d ** -0.5``.

    Returns:
        Tensor: ``(B * nW, heads, N, d)``.

    The compiled kernels take ``N <= 144`` (windows up to 12) and
    ``d <= 64``; larger sizes use the pure-PyTorch reference. On GPUs,
    float16 and bfloat16 run on tensor cores from compute capability 8.0 on
    (when the build compiled such an architecture, see
    :func:`compiled_cuda_archs`). ``MMZOO_WINDOW_ATTENTION_KERNEL=simt``
    forces the kernels without tensor cores, ``tensor_cores`` refuses to
    run without them, ``auto`` (the default) chooses.
    """
    _check_shapes(q, k, v, bias, mask)
    if scale is None:
        scale = q.shape[-1]**-0.5
    N, d = q.shape[2], q.shape[3]
    if (N <= MAX_TOKENS and d <= MAX_HEAD_DIM
            and extension_supports('window_attention', q)):
        bias, mask = _as_kernel_takes(bias, mask, q)
        q, k, v = _common_layout(q, k, v)
        out, _ = torch.ops.mmzoo.window_attention_fwd(q, k, v, bias, mask,
                                                      float(scale))
        return out
    return window_attention_reference(q, k, v, bias, mask, scale)


def window_attention_qkv(qkv: torch.Tensor,
                         num_heads: int,
                         bias: Optional[torch.Tensor] = None,
                         mask: Optional[torch.Tensor] = None,
                         scale: Optional[float] = None) -> torch.Tensor:
    """``window_attention`` straight from a packed qkv projection, as Swin's
    ``qkv`` Linear gives it, with the heads merged for its ``proj``.

    On CPU one compiled op reads q, k and v in place, writes the heads side
    by side and returns the gradient in qkv's layout, saving the copies that
    splitting and merging heads cost around ``window_attention``; elsewhere
    it splits the heads and calls ``window_attention``.

    Args:
        qkv (Tensor): ``(B * nW, N, 3 * C)``, channels ordered
            ``(3, heads, d)``: q, then k, then v, each head by head.
        num_heads (int): Heads; C must be a multiple.
        bias, mask, scale: As for :func:`window_attention`.

    Returns:
        Tensor: ``(B * nW, N, C)``, channels ordered ``(heads, d)``.
    """
    if qkv.dim() != 3 or qkv.shape[2] % (3 * num_heads):
        raise ValueError('window_attention_qkv expects qkv of shape '
                         f'(B*nW, N, 3C) with C divisible by num_heads='
                         f'{num_heads}, got {tuple(qkv.shape)}')
    _check_devices('qkv', qkv, bias=bias, mask=mask)
    BW, N, C3 = qkv.shape
    d = C3 // (3 * num_heads)
    _check_bias_and_mask(BW, num_heads, N, bias, mask)
    if (N <= MAX_TOKENS and d <= MAX_HEAD_DIM
            and extension_supports('window_attention_qkv', qkv)):
        bias, mask = _as_kernel_takes(bias, mask, qkv)
        out, _ = torch.ops.mmzoo.window_attention_qkv_fwd(
            qkv.contiguous(), num_heads, bias, mask,
            float(d**-0.5 if scale is None else scale))
        return out
    q, k, v = _split_heads(qkv, num_heads)
    return _merge_heads(window_attention(q, k, v, bias, mask, scale))
