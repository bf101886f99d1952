"""window_partition / window_reverse / shift_window_mask against the reference
in plain PyTorch and hand-worked examples."""
import pytest
import torch
from torch.library import opcheck

from mmzoo.ops import (shift_window_mask, window_partition,
                       window_partition_reference, window_reverse,
                       window_reverse_reference)
from mmzoo.ops._library import extension_loaded

# (B, H, W, C, window, shift): square, padded, non-square, shifted, unshifted.
CASES = [
    (2, 7, 7, 3, 7, 3),
    (1, 10, 13, 5, 4, 2),
    (2, 5, 9, 4, 3, 0),
    (1, 12, 12, 2, 6, 3),
    (3, 1, 6, 2, 2, 1),
]


def test_hand_worked_example():
    # 3x3 image, window 2, shift 1: pad to 4x4, roll by (-1, -1), cut. Window
    # (0, 0) holds padded pixels (1..2, 1..2); window (0, 1) the columns 3
    # (padding) and 0; window (1, 0) the rows 3 (padding) and 0.
    x = torch.arange(9.).view(1, 3, 3, 1)
    expected = torch.tensor([[4., 5., 7., 8.], [0., 3., 0., 6.],
                             [0., 0., 1., 2.], [0., 0., 0., 0.]])
    for fn in (window_partition, window_partition_reference):
        assert torch.equal(fn(x, 2, 1).squeeze(-1), expected)
    for fn in (window_reverse, window_reverse_reference):
        assert torch.equal(fn(expected.unsqueeze(-1), 2, 1, 3, 3), x)


@pytest.mark.parametrize('B,H,W,C,ws,shift', CASES)
def test_matches_reference_and_round_trips(B, H, W, C, ws, shift):
    x = torch.randn(B, H, W, C)
    windows = window_partition(x, ws, shift)
    n_windows = -(-H // ws) * -(-W // ws)
    assert windows.shape == (B * n_windows, ws * ws, C)
    assert torch.equal(windows, window_partition_reference(x, ws, shift))
    assert torch.equal(
        window_reverse(windows, ws, shift, H, W),
        window_reverse_reference(windows, ws, shift, H, W))
    assert torch.equal(window_reverse(windows, ws, shift, H, W), x)


@pytest.mark.parametrize('B,H,W,C,ws,shift', CASES[:3])
def test_gradcheck(B, H, W, C, ws, shift):
    x = torch.randn(B, H, W, C, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: window_partition(t, ws, shift),
                                    (x, ))
    n = B * -(-H // ws) * -(-W // ws)
    w = torch.randn(n, ws * ws, C, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda t: window_reverse(t, ws, shift, H, W), (w, ))


def test_opcheck():
    assert extension_loaded()
    x = torch.randn(2, 5, 9, 3, requires_grad=True)
    opcheck(torch.ops.mmzoo.window_partition, (x, 4, 2))
    w = torch.randn(2 * 2 * 3, 16, 3, requires_grad=True)
    opcheck(torch.ops.mmzoo.window_reverse, (w, 4, 2, 5, 9))


def test_shift_window_mask_hand_worked():
    # 4x4, window 2, shift 1: regions are rows {0,1}, {2}, {3} times the same
    # columns. Window 0 lies in one region; window 1 (columns 2, 3) splits
    # by column, window 2 (rows 2, 3) by row; window 3 holds four regions,
    # one token each.
    mask = shift_window_mask(4, 4, 2, 1)
    assert mask.shape == (4, 4, 4) and mask.dtype == torch.float32
    off = torch.full((4, 4), -100.)
    assert torch.equal(mask[0], torch.zeros(4, 4))
    same_column = torch.tensor([[1, 0, 1, 0], [0, 1, 0, 1], [1, 0, 1, 0],
                                [0, 1, 0, 1]]).bool()
    assert torch.equal(mask[1], off.masked_fill(same_column, 0))
    same_row = torch.tensor([[1, 1, 0, 0], [1, 1, 0, 0], [0, 0, 1, 1],
                             [0, 0, 1, 1]]).bool()
    assert torch.equal(mask[2], off.masked_fill(same_row, 0))
    assert torch.equal(mask[3], off.fill_diagonal_(0))
    assert not shift_window_mask(8, 12, 4, 0).any()


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match='shift_size'):
        window_partition(torch.zeros(1, 4, 4, 1), 2, 2)
    with pytest.raises(ValueError, match=r'\(B, H, W, C\)'):
        window_partition(torch.zeros(4, 4, 1), 2)
    with pytest.raises(ValueError, match='window_reverse expects'):
        window_reverse(torch.zeros(3, 4, 1), 2, 0, 4, 4)


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a GPU')
@pytest.mark.parametrize('dtype',
                         [torch.float32, torch.float16, torch.bfloat16])
def test_cuda_matches_cpu(dtype):
    x = torch.randn(2, 10, 13, 6, dtype=dtype)
    expected = window_partition_reference(x, 4, 2)
    xg = x.cuda().requires_grad_()
    windows = window_partition(xg, 4, 2)
    assert torch.equal(windows.cpu(), expected)
    assert torch.equal(window_reverse(windows, 4, 2, 10, 13).cpu(), x)
    grad = torch.randn_like(windows)
    windows.backward(grad)
    assert torch.equal(xg.grad.cpu(),
                       window_reverse_reference(grad.cpu(), 4, 2, 10, 13))
