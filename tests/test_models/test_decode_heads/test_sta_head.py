"""STAHead's attention against naive references written as the official
code computes them (github justchenhao/STANet, models/BAM.py and
models/PAM2.py): one full softmax matrix per window, forward and
gradients; and its mmseg decode-head interface (loss_by_feat,
predict_by_feat) against the paper's loss and threshold."""
import pytest
import torch
import torch.nn.functional as F
from mmengine.structures import PixelData
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.structures import SegDataSample

from mmzoo.models.decode_heads import STAHead
from mmzoo.models.decode_heads.sta_head import PAM


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
    value, query, key = (
        torch.stack([t[..., :w], t[..., w:]], 4) for t in (value, query, key))
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
    return pam.fuse(
        torch.cat([reference_pam_block(b, x) for b in pam.blocks], 1))


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
    """Head output and gradients (inputs and weights) against the reference
    attention followed by the distance."""
    torch.manual_seed(0)
    head = head.double().train()
    head.init_weights()
    a, b = (
        torch.randn(*shape, dtype=torch.float64, requires_grad=True)
        for _ in range(2))
    ours = head((a, b))
    both = reference(head.attention, torch.cat([a, b], 3))
    w = shape[3]
    expected = distance(both[..., :w], both[..., w:])
    torch.testing.assert_close(ours, expected, rtol=1e-9, atol=1e-9)
    leaves = [a, b] + [p for p in head.parameters()]
    grad = torch.randn_like(ours)
    got = torch.autograd.grad(ours, leaves, grad, allow_unused=True)
    want = torch.autograd.grad(expected, leaves, grad, allow_unused=True)
    names = ['a', 'b'] + [n for n, _ in head.named_parameters()]
    for name, g1, g2 in zip(names, got, want):
        if g2 is None:
            assert g1 is None or not g1.any(), name
            continue
        torch.testing.assert_close(g1, g2, rtol=1e-8, atol=1e-9, msg=name)


@pytest.mark.parametrize(
    'shape', [(2, 16, 16, 16), (2, 16, 19, 13)],
    ids=['regions-divide', 'remainder-regions'])
def test_pam_equals_official_formulation(shape):
    compare(STAHead(in_channels=16, attention='pam'), reference_pam, shape)


@pytest.mark.parametrize('ds', [1, 2])
def test_bam_equals_official_formulation(ds):
    compare(
        STAHead(in_channels=16, attention='bam', ds=ds), reference_bam,
        (2, 16, 8, 12))


def test_base_model_distance_is_the_channel_norm():
    head = STAHead(in_channels=4, attention='none')
    a = torch.zeros(1, 4, 2, 2)
    b = torch.zeros(1, 4, 2, 2)
    b[0, :, 0, 1] = torch.tensor([3., 0., 4., 0.])  # |(3, 0, 4, 0)| = 5
    d = head((a, b))
    assert d.shape == (1, 1, 2, 2)
    assert d[0, 0, 0, 1].item() == pytest.approx(5.0, abs=1e-5)
    assert d[0, 0, 1, 1].item() == pytest.approx(0.0, abs=1e-5)


def test_predict_upsamples_with_aligned_corners():
    head = STAHead(in_channels=4, attention='none')
    a, b = torch.randn(1, 4, 5, 6), torch.randn(1, 4, 5, 6)
    low = head((a, b))
    high = head.predict((a, b), [dict(img_shape=(17, 21))], None)
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
        torch.testing.assert_close(head((a, b)), head((b, a)))


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match='attention'):
        STAHead(attention='cbam')
    head = STAHead(in_channels=16, attention='pam')
    with pytest.raises(ValueError, match='differ in shape'):
        head((torch.randn(1, 16, 8, 8), torch.randn(1, 16, 8, 9)))
    with pytest.raises(ValueError, match='at least 8 pixels'):
        head((torch.randn(1, 16, 4, 4), torch.randn(1, 16, 4, 4)))
    with pytest.raises(ValueError, match=r'pair \(feat_a, feat_b\)'):
        head((torch.randn(1, 16, 8, 8), ))
    with pytest.raises(ValueError, match='ignore_index=255.*ignores 0'):
        STAHead(loss_decode=dict(type='mmzoo.BCLLoss', ignore_index=0))


def test_is_an_mmseg_decode_head_without_a_classifier():
    head = STAHead(in_channels=16, attention='pam', pam_scales=(1, ))
    assert isinstance(head, BaseDecodeHead)
    assert (head.num_classes, head.out_channels) == (2, 1)
    # The keys of STANet checkpoints: the attention only, no conv_seg.
    norm = ('weight', 'bias', 'running_mean', 'running_var',
            'num_batches_tracked')
    expected = {
        'attention.fuse.weight', 'attention.blocks.0.value.weight',
        'attention.blocks.0.value.bias'
    }
    for branch in ('query', 'key'):
        prefix = f'attention.blocks.0.{branch}'
        expected |= {f'{prefix}.0.weight', f'{prefix}.0.bias'}
        expected |= {f'{prefix}.1.{name}' for name in norm}
    assert set(head.state_dict()) == expected


def test_building_draws_only_the_attention_from_the_random_stream():
    """A seeded run starts from the weights it had before the head became an
    mmseg decode head: building the head draws exactly what building its
    attention draws."""
    torch.manual_seed(0)
    PAM(16)
    after_attention = torch.get_rng_state()
    torch.manual_seed(0)
    STAHead(in_channels=16, attention='pam')
    torch.testing.assert_close(
        torch.get_rng_state(), after_attention, rtol=0, atol=0)


def samples_with(labels):
    out = []
    for label in labels:
        s = SegDataSample()
        s.gt_sem_seg = PixelData(data=label[None])
        out.append(s)
    return out


def paper_bcl(distance, label, margin):
    """The BCL of Chen and Shi (2020), their Eq. (8), counted per pixel as the
    official loss does.

    Mean squared distance of unchanged pixels plus mean squared shortfall of
    changed ones below the margin; label 255 in neither.
    """
    d, y = distance.flatten().tolist(), label.flatten().tolist()
    pull = [di**2 for di, yi in zip(d, y) if yi == 0]
    push = [max(0.0, margin - di)**2 for di, yi in zip(d, y) if yi == 1]
    return (sum(pull) / (len(pull) + 1e-4) + sum(push) / (len(push) + 1e-4))


def test_loss_by_feat_is_the_paper_loss_at_label_resolution():
    torch.manual_seed(0)
    head = STAHead(in_channels=4, attention='none', threshold=1.0)
    distance = torch.rand(2, 1, 5, 6) * 2
    labels = torch.randint(0, 2, (2, 17, 21))
    labels[:, :3] = 255
    losses = head.loss_by_feat(distance, samples_with(labels))
    assert set(losses) == {'loss_bcl', 'acc_change'}
    # align_corners=True, as STANet upsamples its distances
    upsampled = F.interpolate(
        distance, (17, 21), mode='bilinear', align_corners=True)[:, 0]
    assert losses['loss_bcl'].item() == pytest.approx(
        paper_bcl(upsampled, labels, margin=2.0), rel=1e-5)
    valid = labels != 255
    right = ((upsampled > 1.0) == (labels == 1)) & valid
    assert losses['acc_change'].item() == pytest.approx(
        100 * right.sum().item() / valid.sum().item(), rel=1e-6)


def test_losses_of_one_name_add_up_and_of_two_names_stay_apart():
    distance = torch.rand(1, 1, 4, 4) * 2
    labels = torch.randint(0, 2, (1, 4, 4))
    single = STAHead(
        in_channels=4,
        attention='none').loss_by_feat(distance,
                                       samples_with(labels))['loss_bcl']
    split = STAHead(
        in_channels=4,
        attention='none',
        loss_decode=[
            dict(type='mmzoo.BCLLoss', loss_weight=0.25),
            dict(type='mmzoo.BCLLoss', loss_weight=0.75)
        ]).loss_by_feat(distance, samples_with(labels))
    torch.testing.assert_close(split['loss_bcl'], single)
    named = STAHead(
        in_channels=4,
        attention='none',
        loss_decode=[
            dict(type='mmzoo.BCLLoss'),
            dict(type='mmzoo.BCLLoss', margin=1.0, loss_name='loss_bcl_m1')
        ]).loss_by_feat(distance, samples_with(labels))
    assert set(named) == {'loss_bcl', 'loss_bcl_m1', 'acc_change'}
    torch.testing.assert_close(named['loss_bcl'], single)


def test_predict_by_feat_upsamples_to_the_padded_input():
    """As mmseg's heads: to pad_shape when the batch was padded, else to
    img_shape."""
    head = STAHead(in_channels=4, attention='none')
    distance = torch.rand(1, 1, 4, 4)
    padded = head.predict_by_feat(
        distance, [dict(img_shape=(12, 10), pad_shape=(16, 16))])
    plain = head.predict_by_feat(distance, [dict(img_shape=(12, 10))])
    assert padded.shape == (1, 1, 16, 16)
    assert plain.shape == (1, 1, 12, 10)
