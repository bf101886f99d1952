"""STAHead's attention against naive references written as the official
code computes them (github justchenhao/STANet, models/BAM.py and
models/PAM2.py): one full softmax matrix per window, forward and
gradients."""
import pytest
import torch
import torch.nn.functional as F

from mmzoo.models.decode_heads import STAHead


def official_bounds(length, scale):
    # PAM2._PAMBlock.forward: steps of length // scale, the last part
    # running to the end.
    step = length // scale
    return [(i * step, length if i == scale - 1 else (i + 1) * step)
            for i in range(scale)]


def reference_pam_block(block, x):
    """_PAMBlock with ds=1 on the side-by-side map x (B, C, h, 2w)."""
    b, _, h, w2 = x.shape
    w = w2 // 2
    value, query, key = block.value(x), block.query(x), block.key(x)
    # The official code stacks the dates on a fifth axis.
    value, query, key = (torch.stack([t[..., :w], t[..., w:]], 4)
                         for t in (value, query, key))
    cv, ck = value.shape[1], query.shape[1]
    out = torch.zeros(b, cv, h, w, 2, dtype=x.dtype)
    for r0, r1 in official_bounds(h, block.scale):
        for c0, c1 in official_bounds(w, block.scale):
            v = value[:, :, r0:r1, c0:c1].reshape(b, cv, -1)
            q = query[:, :, r0:r1, c0:c1].reshape(b, ck, -1).permute(0, 2, 1)
            k = key[:, :, r0:r1, c0:c1].reshape(b, ck, -1)
            sim = F.softmax(torch.bmm(q, k) * ck**-0.5, dim=-1)
            ctx = torch.bmm(v, sim.permute(0, 2, 1))
            out[:, :, r0:r1, c0:c1] = ctx.view(b, cv, r1 - r0, c1 - c0, 2)
    return torch.cat([out[..., 0], out[..., 1]], 3)


def reference_pam(pam, x):
    return pam.fuse(torch.cat([reference_pam_block(b, x)
                               for b in pam.blocks], 1))


def reference_bam(bam, x):
    """BAM.forward of the official code on x (B, C, h, 2w)."""
    pooled = F.avg_pool2d(x, bam.ds) if bam.ds > 1 else x
    b, c, h, w = pooled.shape
    q = bam.query(pooled).view(b, -1, h * w).permute(0, 2, 1)
    k = bam.key(pooled).view(b, -1, h * w)
    attention = F.softmax(torch.bmm(q, k) * (c // 8)**-0.5, dim=-1)
    v = bam.value(pooled).view(b, -1, h * w)
    out = torch.bmm(v, attention.permute(0, 2, 1)).view(b, c, h, w)
    out = F.interpolate(out, [h * bam.ds, w * bam.ds])
    return out + x


def distance(a, b):
    return ((a - b + 1e-6)**2).sum(1, keepdim=True).sqrt()


def compare(head, reference, shape):
    """Head output and gradients (inputs and weights) against the
    reference attention followed by the distance."""
    torch.manual_seed(0)
    head = head.double().train()
    head.init_weights()
    a, b = (torch.randn(*shape, dtype=torch.float64, requires_grad=True)
            for _ in range(2))
    ours = head(a, b)
    both = reference(head.attention, torch.cat([a, b], 3))
    w = shape[3]
    expected = distance(both[..., :w], both[..., w:])
    torch.testing.assert_close(ours, expected, rtol=1e-9, atol=1e-9)
    leaves = [a, b] + [p for p in head.parameters()]
    grad = torch.randn_like(ours)
    got = torch.autograd.grad(ours, leaves, grad, allow_unused=True)
    want = torch.autograd.grad(expected, leaves, grad, allow_unused=True)
    for name, g1, g2 in zip(['a', 'b'] + [n for n, _ in
                                          head.named_parameters()],
                            got, want):
        if g2 is None:
            assert g1 is None or not g1.any(), name
            continue
        torch.testing.assert_close(g1, g2, rtol=1e-8, atol=1e-9, msg=name)


@pytest.mark.parametrize('shape', [(2, 16, 16, 16), (2, 16, 19, 13)],
                         ids=['regions-divide', 'remainder-regions'])
def test_pam_equals_official_formulation(shape):
    compare(STAHead(in_channels=16, attention='pam'), reference_pam, shape)


@pytest.mark.parametrize('ds', [1, 2])
def test_bam_equals_official_formulation(ds):
    compare(STAHead(in_channels=16, attention='bam', ds=ds), reference_bam,
            (2, 16, 8, 12))


def test_base_model_distance_is_the_channel_norm():
    head = STAHead(in_channels=4, attention='none')
    a = torch.zeros(1, 4, 2, 2)
    b = torch.zeros(1, 4, 2, 2)
    b[0, :, 0, 1] = torch.tensor([3., 0., 4., 0.])  # |(3, 0, 4, 0)| = 5
    d = head(a, b)
    assert d.shape == (1, 1, 2, 2)
    assert d[0, 0, 0, 1].item() == pytest.approx(5.0, abs=1e-5)
    assert d[0, 0, 1, 1].item() == pytest.approx(0.0, abs=1e-5)


def test_predict_upsamples_with_aligned_corners():
    head = STAHead(in_channels=4, attention='none')
    a, b = torch.randn(1, 4, 5, 6), torch.randn(1, 4, 5, 6)
    low, high = head(a, b), head.predict(a, b, (17, 21))
    assert high.shape == (1, 1, 17, 21)
    # align_corners=True keeps the four corner values.
    for y, x, yy, xx in [(0, 0, 0, 0), (4, 5, 16, 20), (0, 5, 0, 20)]:
        assert high[0, 0, yy, xx].item() == pytest.approx(
            low[0, 0, y, x].item(), rel=1e-5)


def test_swapping_dates_keeps_the_distances():
    torch.manual_seed(0)
    head = STAHead(in_channels=16, attention='pam').eval()
    a, b = torch.randn(2, 16, 16, 16), torch.randn(2, 16, 16, 16)
    with torch.no_grad():
        torch.testing.assert_close(head(a, b), head(b, a))


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match='attention'):
        STAHead(attention='cbam')
    head = STAHead(in_channels=16, attention='pam')
    with pytest.raises(ValueError, match='differ in shape'):
        head(torch.randn(1, 16, 8, 8), torch.randn(1, 16, 8, 9))
    with pytest.raises(ValueError, match='at least 8 pixels'):
        head(torch.randn(1, 16, 4, 4), torch.randn(1, 16, 4, 4))
