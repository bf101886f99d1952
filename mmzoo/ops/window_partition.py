"""Cyclic shift fused with window partition, and its inverse (Swin).

Swin Transformer: Hierarchical Vision Transformer using Shifted Windows
(Liu et al., ICCV 2021, https://arxiv.org/abs/2103.14030).

``window_partition`` pads ``(B, H, W, C)`` at the bottom/right with zeros to
window multiples ``(Hp, Wp)``, rolls it by ``(-shift, -shift)`` over H and W
and cuts it into windows ``(B * nWh * nWw, ws * ws, C)``; window
``b * nWh * nWw + i * nWw + j``, tokens row-major inside a window.
``window_reverse`` is its exact inverse (un-partition, roll by
``(+shift, +shift)``, crop to ``(H, W)``). Each is the other's gradient, so
the compiled kernels need no separate backward.
"""
from typing import Optional

import torch
import torch.nn.functional as F

from ._library import extension_supports


def _check_window(window_size: int, shift_size: int) -> None:
    if window_size < 1:
        raise ValueError(f'window_size must be >= 1, got {window_size}')
    if not 0 <= shift_size < window_size:
        raise ValueError(
            f'shift_size must be in [0, window_size={window_size})'
            f', got {shift_size}')


def padded_size(size: int, window_size: int) -> int:
    """``size`` rounded up to a multiple of ``window_size``."""
    return -(-size // window_size) * window_size


def window_partition_reference(x: torch.Tensor,
                               window_size: int,
                               shift_size: int = 0) -> torch.Tensor:
    """Pure-PyTorch ``window_partition``; the tests' reference."""
    B, H, W, C = x.shape
    ws = window_size
    Hp, Wp = padded_size(H, ws), padded_size(W, ws)
    x = F.pad(x, (0, 0, 0, Wp - W, 0, Hp - H))
    if shift_size:
        x = torch.roll(x, (-shift_size, -shift_size), (1, 2))
    x = x.view(B, Hp // ws, ws, Wp // ws, ws, C).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(-1, ws * ws, C)


def window_reverse_reference(windows: torch.Tensor, window_size: int,
                             shift_size: int, H: int, W: int) -> torch.Tensor:
    """Pure-PyTorch ``window_reverse``; the tests' reference."""
    ws = window_size
    Hp, Wp = padded_size(H, ws), padded_size(W, ws)
    C = windows.shape[-1]
    x = windows.reshape(-1, Hp // ws, Wp // ws, ws, ws, C)
    x = x.permute(0, 1, 3, 2, 4, 5).reshape(-1, Hp, Wp, C)
    if shift_size:
        x = torch.roll(x, (shift_size, shift_size), (1, 2))
    return x[:, :H, :W].contiguous()


def window_partition(x: torch.Tensor,
                     window_size: int,
                     shift_size: int = 0) -> torch.Tensor:
    """Pad, cyclically shift and partition into windows in one pass.

    Args:
        x (Tensor): ``(B, H, W, C)``; H and W need not be window multiples
            nor equal.
        window_size (int): Window side ``ws``.
        shift_size (int): Cyclic shift in ``[0, ws)``. Default: 0.

    Returns:
        Tensor: ``(B * nWh * nWw, ws * ws, C)`` with
        ``nWh = ceil(H / ws)``, ``nWw = ceil(W / ws)``.
    """
    if x.dim() != 4:
        raise ValueError('window_partition expects x of shape (B, H, W, C), '
                         f'got {tuple(x.shape)}')
    _check_window(window_size, shift_size)
    if extension_supports('window_partition', x):
        return torch.ops.mmzoo.window_partition(x.contiguous(), window_size,
                                                shift_size)
    return window_partition_reference(x, window_size, shift_size)


def window_reverse(windows: torch.Tensor, window_size: int, shift_size: int,
                   H: int, W: int) -> torch.Tensor:
    """Merge windows, undo the cyclic shift and crop the padding in one pass.

    Args:
        windows (Tensor): ``(B * nWh * nWw, ws * ws, C)`` as returned by
            :func:`window_partition`.
        window_size (int): Window side ``ws``.
        shift_size (int): The shift that :func:`window_partition` applied.
        H (int): Height to crop back to.
        W (int): Width to crop back to.

    Returns:
        Tensor: ``(B, H, W, C)``.
    """
    _check_window(window_size, shift_size)
    ws = window_size
    n_windows = (padded_size(H, ws) // ws) * (padded_size(W, ws) // ws)
    if (windows.dim() != 3 or windows.shape[1] != ws * ws
            or windows.shape[0] % n_windows):
        raise ValueError(
            f'window_reverse expects windows of shape (B*{n_windows}, '
            f'{ws * ws}, C) for H={H}, W={W}, window_size={ws}, got '
            f'{tuple(windows.shape)}')
    if extension_supports('window_reverse', windows):
        return torch.ops.mmzoo.window_reverse(windows.contiguous(), ws,
                                              shift_size, H, W)
    return window_reverse_reference(windows, ws, shift_size, H, W)


def shift_window_mask(Hp: int,
                      Wp: int,
                      window_size: int,
                      shift_size: int,
                      device: Optional[torch.device] = None) -> torch.Tensor:
    """The attention mask of shifted windows, as official Swin builds it.

    After the cyclic shift, windows on the bottom/right border hold tokens
    from up to four image regions that were not neighbours; a token may only
    attend to tokens of its own region.

    Args:
        Hp (int): Padded height (a multiple of ``window_size``).
        Wp (int): Padded width (a multiple of ``window_size``).
        window_size (int): Window side ``ws``.
        shift_size (int): Cyclic shift in ``[0, ws)``; 0 gives all zeros.
        device (torch.device, optional): Where to build the mask.

    Returns:
        Tensor: float ``(nW, ws * ws, ws * ws)`` holding 0 (same region) and
        -100 (different regions), ``nW = (Hp // ws) * (Wp // ws)``.
    """
    _check_window(window_size, shift_size)
    if Hp % window_size or Wp % window_size:
        raise ValueError(f'Hp={Hp} and Wp={Wp} must be multiples of '
                         f'window_size={window_size}')
    ws, s = window_size, shift_size
    region = torch.zeros(1, Hp, Wp, 1, device=device)
    if s:
        cuts = (slice(0, -ws), slice(-ws, -s), slice(-s, None))
        for n, (h, w) in enumerate((h, w) for h in cuts for w in cuts):
            region[:, h, w, :] = n
    region = window_partition_reference(region, ws).squeeze(-1)
    diff = region.unsqueeze(1) - region.unsqueeze(2)
    return torch.zeros_like(diff).masked_fill_(diff != 0, -100.0)
