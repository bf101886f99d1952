"""T2Net's tiled hard patch attention against the official computation (every
patch pair's relevance in one matrix, then max, gather and fold), outputs and
gradients, with tiles that do not divide the positions."""
import pytest
import torch
import torch.nn.functional as F

from mmzoo.models.utils.task_transformer import (TaskTransformer,
                                                 hard_patch_attention)


def naive_hard_patch_attention(query, key, value):
    """The official Transformer.forward (github chunmeifeng/T2Net,
    models/T2net.py) in plain PyTorch."""
    q = F.normalize(F.unfold(query, 3, padding=1), dim=1)
    k = F.normalize(F.unfold(key, 3, padding=1), dim=1).permute(0, 2, 1)
    relevance, index = torch.max(torch.bmm(k, q), dim=1)  # all pairs
    v = F.unfold(value, 3, padding=1)
    texture = torch.gather(v, 2, index.unsqueeze(1).expand(-1, v.shape[1], -1))
    texture = F.fold(texture, query.shape[-2:], kernel_size=3, padding=1) / 9.
    return relevance.view(query.shape[0], 1, *query.shape[-2:]), texture


def leaves(*shapes):
    return [
        torch.randn(*s, dtype=torch.float64, requires_grad=True)
        for s in shapes
    ]


@pytest.mark.parametrize('tile_elements', [1, 7 * 30 + 5, 2**30])
@pytest.mark.parametrize('key_size', [(6, 5), (9, 11)])
def test_equals_naive_with_gradients(tile_elements, key_size):
    torch.manual_seed(0)
    query, key, value = leaves((2, 4, 6, 5), (2, 4, *key_size),
                               (2, 3, *key_size))
    ours = hard_patch_attention(query, key, value, tile_elements)
    reference = naive_hard_patch_attention(query, key, value)
    grads = [torch.randn_like(t) for t in reference]
    for a, b in zip(ours, reference):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)
    for a, b in zip(
            torch.autograd.grad(ours, (query, key, value), grads),
            torch.autograd.grad(reference, (query, key, value), grads)):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)


def test_finds_the_copied_patch():
    """The key map holds the query map shifted by one pixel: every query patch
    away from the border finds its copy (relevance 1), and where all nine
    patches covering a pixel found theirs the transfer returns the query map
    itself."""
    torch.manual_seed(1)
    query = torch.randn(1, 3, 10, 10)
    key = torch.roll(query, shifts=(1, 1), dims=(2, 3))
    relevance, texture = hard_patch_attention(
        query, key, key, tile_elements=50)
    found = relevance[:, :, 1:8, 1:8]
    torch.testing.assert_close(found, torch.ones_like(found))
    torch.testing.assert_close(texture[:, :, 2:7, 2:7], query[:, :, 2:7, 2:7])


def test_module_fuses_texture_weighted_by_relevance():
    torch.manual_seed(2)
    module = TaskTransformer(4, tile_elements=20).double()
    query, source = leaves((1, 4, 5, 6), (1, 4, 7, 5))
    relevance, texture = naive_hard_patch_attention(query, source, source)
    expected = query + module.fuse(torch.cat([query, texture], 1)) * relevance
    torch.testing.assert_close(module(query, source), expected)


def test_bad_shapes_are_named():
    with pytest.raises(
            ValueError, match=r'query \(2, 4, 6, 5\), key '
            r'\(2, 3, 6, 5\)'):
        hard_patch_attention(
            torch.zeros(2, 4, 6, 5), torch.zeros(2, 3, 6, 5),
            torch.zeros(2, 3, 6, 5))
