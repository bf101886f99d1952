"""The blocked attention against plain softmax attention, forward and
gradients, including blocks that do not divide the tokens."""
import pytest
import torch

from mmzoo.models.utils.chunked_attention import chunked_attention


def plain_attention(q, k, v, scale):
    return torch.softmax(q @ k.transpose(1, 2) * scale, dim=-1) @ v


@pytest.mark.parametrize('block_elements', [1, 3 * 37 * 5, 2**20])
def test_equals_plain_attention_with_gradients(block_elements):
    torch.manual_seed(0)
    q, k = (
        torch.randn(3, 37, 8, dtype=torch.float64, requires_grad=True)
        for _ in range(2))
    v = torch.randn(3, 37, 16, dtype=torch.float64, requires_grad=True)
    # Large logits: the max-subtraction must keep the softmax exact.
    scale = 3.0
    ours = chunked_attention(q, k, v, scale, block_elements)
    reference = plain_attention(q, k, v, scale)
    torch.testing.assert_close(ours, reference, rtol=1e-10, atol=1e-10)
    grad = torch.randn_like(ours)
    for a, b in zip(
            torch.autograd.grad(ours, (q, k, v), grad),
            torch.autograd.grad(reference, (q, k, v), grad)):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10)


def test_gradcheck():
    torch.manual_seed(1)
    q, k = (
        torch.randn(2, 9, 4, dtype=torch.float64, requires_grad=True)
        for _ in range(2))
    v = torch.randn(2, 9, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda *t: chunked_attention(*t, 0.5, 2 * 9 * 2), (q, k, v))


def test_shape_errors_name_the_shapes():
    q = torch.randn(2, 9, 4)
    with pytest.raises(ValueError, match=r'\(2, 9, 4\).*\(2, 8, 4\)'):
        chunked_attention(q, torch.randn(2, 8, 4), torch.randn(2, 9, 3), 1.)
