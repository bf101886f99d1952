"""T2Net: output sizes, the official parameter count, the loss by hand, the
ablation without task transformers, and the batching preprocessor."""
import pytest
import torch
from mmengine.structures import BaseDataElement
from mmzoo_testing import num_params

from mmzoo.registry import MODELS

pytestmark = pytest.mark.default_scope('mmzoo')

# The official model (github chunmeifeng/T2Net, models/T2net.py, built as
# ixi_train_t2net.py does: n_resblocks=8, n_feats=64, res_scale=0.1) has
# 1,473,282 parameters at ×2 and 1,620,994 at ×4, counted by constructing
# it; 73,856 of them belong to the 3×3 convolution each body list ends with,
# which its forward never runs and mmzoo leaves out.
OFFICIAL_UNUSED = 2 * (64 * 64 * 9 + 64)
OFFICIAL_PARAMS = {2: 1_473_282, 4: 1_620_994}


def sample(scale, h=12, w=10, hr=0.0, lr=0.0):
    return BaseDataElement(
        gt_hr=torch.full((1, scale * h, scale * w), hr),
        gt_lr=torch.full((1, h, w), lr))


@pytest.mark.parametrize('scale', [2, 4])
def test_official_size_and_outputs(scale):
    model = MODELS.build(dict(type='T2Net', scale=scale))
    assert num_params(model) == OFFICIAL_PARAMS[scale] - OFFICIAL_UNUSED
    samples = [sample(scale), sample(scale)]
    data = model.data_preprocessor(
        dict(
            inputs=[torch.randn(1, 12, 10) for _ in samples],
            data_samples=samples))
    with torch.no_grad():
        out = model(**data, mode='predict')
    assert out[0].pred_sr.shape == (1, 12 * scale, 10 * scale)
    assert out[1].pred_recon.shape == (1, 12, 10)
    assert out[0].pred_sr.dtype == torch.float32


def test_loss_by_hand():
    """With every weight zero both outputs are zero (the relevance of a zero
    patch is 0), so the losses are the weighted mean absolute targets."""
    model = MODELS.build(dict(type='T2Net', scale=2, channels=8, num_blocks=2))
    for p in model.parameters():
        torch.nn.init.zeros_(p)
    losses = model(
        torch.randn(2, 1, 6, 6), [sample(2, 6, 6, hr=-2.0, lr=0.5)] * 2,
        mode='loss')
    assert losses['loss_sr'].item() == pytest.approx(0.8 * 2.0)
    assert losses['loss_recon'].item() == pytest.approx(0.2 * 0.5)


def test_loss_weights_each_l1():
    torch.manual_seed(0)
    model = MODELS.build(
        dict(
            type='T2Net',
            scale=2,
            channels=8,
            num_blocks=2,
            sr_weight=0.3,
            recon_weight=0.7))
    inputs = torch.randn(2, 1, 6, 8)
    samples = [
        BaseDataElement(
            gt_hr=torch.rand(1, 12, 16), gt_lr=torch.rand(1, 6, 8))
        for _ in range(2)
    ]
    losses = model(inputs, samples, mode='loss')
    sr, recon = model(inputs)
    gt_hr = torch.stack([s.gt_hr for s in samples])
    gt_lr = torch.stack([s.gt_lr for s in samples])
    sr_l1 = (sr - gt_hr).abs().sum() / sr.numel()
    recon_l1 = (recon - gt_lr).abs().sum() / recon.numel()
    torch.testing.assert_close(losses['loss_sr'], 0.3 * sr_l1)
    torch.testing.assert_close(losses['loss_recon'], 0.7 * recon_l1)


def test_without_transformer_the_branches_are_independent():
    torch.manual_seed(0)
    plain = MODELS.build(
        dict(
            type='T2Net',
            scale=2,
            channels=8,
            num_blocks=2,
            with_transformer=False))
    full = MODELS.build(dict(type='T2Net', scale=2, channels=8, num_blocks=2))
    assert num_params(full) - num_params(plain) == 2 * (16 * 8 + 8)
    inputs = torch.randn(1, 1, 8, 8)
    for name, model in (('plain', plain), ('full', full)):
        sr, _ = model(inputs)
        with torch.no_grad():
            for p in model.recon_blocks.parameters():
                p.add_(torch.randn_like(p))
        sr_after, _ = model(inputs)
        # Only the task transformers carry reconstruction features into
        # the super-resolution branch.
        assert torch.equal(sr, sr_after) == (name == 'plain')


def test_mismatched_targets_and_slices_are_named():
    model = MODELS.build(dict(type='T2Net', scale=4, channels=8, num_blocks=1))
    with pytest.raises(
            ValueError,
            match=r'gt_hr .*\(1, 1, 24, 20\).*'
            r'\(1, 1, 48, 40\) \(scale 4\)'):
        model(torch.randn(1, 1, 12, 10), [sample(2)], mode='loss')
    with pytest.raises(ValueError, match=r'one shape.*\(1, 12, 10\)'):
        model.data_preprocessor(
            dict(inputs=[torch.zeros(1, 12, 10),
                         torch.zeros(1, 8, 8)]))
