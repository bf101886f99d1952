"""BSDAHead: the official multi-branch layout (github llmir/MultitaskOCTA,
smp_model.py ``MyMultibranchModel``; segmentation_models_pytorch's UNet
decoder), and its losses against the official 3·Dice + MSE + MSE computed
by hand in numpy."""
import numpy as np
import pytest
import torch
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from mmzoo.models.decode_heads import BSDAHead

ENCODER = (64, 64, 128, 256, 512)  # ResNet-34, strides 2 to 32
DECODER = (256, 128, 64, 32, 16)  # the official decoder_channels


def encoder_feats(n, h, w, channels=ENCODER):
    """Random stage outputs of an (h, w) image, as a ResNet's convolutions
    (kernel 3 or 7, padding k // 2) and pooling round them: ceil(x / 2)."""
    feats = []
    for c in channels:
        h, w = (h + 1) // 2, (w + 1) // 2
        feats.append(torch.randn(n, c, h, w))
    return feats


@pytest.fixture(scope='module')
def head():
    torch.manual_seed(0)
    head = BSDAHead()
    head.init_weights()
    return head.eval()


def unet_decoder_params(enc, dec):
    """Parameters of smp's UnetDecoder with batch norm: per block two 3×3
    convolutions without bias, each followed by BN (weight and bias)."""
    skips = list(enc[-2::-1]) + [0]
    ins = [enc[-1]] + list(dec[:-1])
    return sum(9 * (cin + s) * cout + 2 * cout + 9 * cout * cout + 2 * cout
               for cin, s, cout in zip(ins, skips, dec))


def test_parameters_match_the_official_layout(head):
    decoders = 3 * unet_decoder_params(ENCODER, DECODER)
    # cat_conv (3×3, 32 -> 16, bias) and three SegmentationHeads (3×3,
    # 16 -> 1, bias).
    rest = (9 * 32 * 16 + 16) + 3 * (9 * 16 + 1)
    assert sum(p.numel() for p in head.parameters()) == decoders + rest


@pytest.mark.parametrize('size', [(64, 64), (100, 76)])
def test_output_shapes(head, size):
    with torch.no_grad():
        outs = head(encoder_feats(2, *size))
    for key in ('mask', 'heatmap', 'sdm'):
        assert outs[key].shape == (2, 1, *size)
    assert len(outs['decoder_feats']) == 3
    # Strides 2, 4, 8, 16, the sizes of the encoder stages there.
    h, w = size
    expected = []
    for c in DECODER[-2::-1]:
        h, w = (h + 1) // 2, (w + 1) // 2
        expected.append((2, c, h, w))
    for feats in outs['decoder_feats']:
        assert [tuple(f.shape) for f in feats] == expected


def test_mask_uses_mask_and_boundary_decoders_only(head):
    feats = encoder_feats(1, 64, 64)
    with torch.no_grad():
        ref = head(feats)
        changed = {}
        for name in ('mask_decoder', 'boundary_decoder', 'distance_decoder'):
            conv = getattr(head, name).blocks[-1].conv2.conv
            saved = conv.weight.clone()
            conv.weight.add_(0.5)
            changed[name] = {
                k: not torch.allclose(v, ref[k])
                for k, v in head(feats).items() if k != 'decoder_feats'
            }
            conv.weight.copy_(saved)
    assert changed['mask_decoder'] == dict(mask=True, heatmap=False, sdm=False)
    assert changed['boundary_decoder'] == dict(
        mask=True, heatmap=True, sdm=False)
    assert changed['distance_decoder'] == dict(
        mask=False, heatmap=False, sdm=True)


def sample(mask, heatmap, sdm, pad_to=None):
    label = torch.as_tensor(mask)[None].long()
    if pad_to is not None:
        full = torch.full((1, *pad_to), 255, dtype=torch.long)
        full[:, :label.shape[1], :label.shape[2]] = label
        label = full
    s = SegDataSample()
    s.gt_sem_seg = PixelData(data=label)
    s.gt_heatmap = PixelData(data=torch.as_tensor(heatmap)[None].float())
    s.gt_sdm = PixelData(data=torch.as_tensor(sdm)[None].float())
    return s


def official_losses(logits, heatmap, sdm, gt_mask, gt_heat, gt_sdm):
    """My_multiLoss with weights (3, 1, 1) in numpy: smp's DiceLoss (eps 1) on
    the sigmoid over the whole batch, MSE means."""
    p = 1 / (1 + np.exp(-logits))
    tp = (p * gt_mask).sum()
    fp, fn = p.sum() - tp, gt_mask.sum() - tp
    dice = (2 * tp + 1) / (2 * tp + fn + fp + 1)
    return (3 * (1 - dice), ((heatmap - gt_heat)**2).mean(),
            ((sdm - gt_sdm)**2).mean())


def test_losses_equal_the_official_definitions(head):
    rng = np.random.default_rng(0)
    n, h, w = 3, 8, 10
    logits, heat, sdm = (rng.normal(size=(n, 1, h, w)) for _ in range(3))
    gt_mask = (rng.random((n, h, w)) > 0.7).astype(np.int64)
    gt_heat, gt_sdm = rng.random((n, h, w)), rng.uniform(-1, 1, (n, h, w))
    outs = {
        k: torch.tensor(v, dtype=torch.float32)
        for k, v in dict(mask=logits, heatmap=heat, sdm=sdm).items()
    }
    samples = [sample(gt_mask[i], gt_heat[i], gt_sdm[i]) for i in range(n)]
    losses = head.loss_by_feat(outs, samples)
    expected = official_losses(logits[:, 0], heat[:, 0], sdm[:, 0], gt_mask,
                               gt_heat, gt_sdm)
    got = [losses[k].item() for k in ('loss_mask', 'loss_heatmap', 'loss_sdm')]
    np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_losses_leave_out_padding(head):
    """mmseg's preprocessor pads gt_sem_seg with 255 but not the other maps:

    the padded pixels must count in no loss.
    """
    rng = np.random.default_rng(1)
    h, w, ph, pw = 6, 7, 8, 8
    gt_mask = (rng.random((h, w)) > 0.5).astype(np.int64)
    gt_heat, gt_sdm = rng.random((h, w)), rng.uniform(-1, 1, (h, w))
    logits, heat, sdm = (rng.normal(size=(1, 1, ph, pw)) for _ in range(3))
    outs = {
        k: torch.tensor(v, dtype=torch.float32)
        for k, v in dict(mask=logits, heatmap=heat, sdm=sdm).items()
    }
    losses = head.loss_by_feat(
        outs, [sample(gt_mask, gt_heat, gt_sdm, pad_to=(ph, pw))])
    expected = official_losses(logits[0, 0, :h, :w], heat[0, 0, :h, :w],
                               sdm[0, 0, :h, :w], gt_mask, gt_heat, gt_sdm)
    got = [losses[k].item() for k in ('loss_mask', 'loss_heatmap', 'loss_sdm')]
    np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_missing_target_is_named(head):
    s = sample(np.zeros((4, 4)), np.zeros((4, 4)), np.zeros((4, 4)))
    del s.gt_sdm
    outs = {k: torch.zeros(1, 1, 4, 4) for k in ('mask', 'heatmap', 'sdm')}
    with pytest.raises(KeyError, match='gt_sdm'):
        head.loss_by_feat(outs, [s])


def test_predict_by_feat_resizes_to_the_input(head):
    outs = {k: torch.randn(1, 1, 8, 8) for k in ('mask', 'heatmap', 'sdm')}
    maps = head.predict_by_feat(outs, [dict(img_shape=(8, 8))])
    assert all(torch.equal(maps[k], outs[k]) for k in outs)
    maps = head.predict_by_feat(outs, [dict(pad_shape=(16, 12))])
    assert all(m.shape == (1, 1, 16, 12) for m in maps.values())


def test_wrong_number_of_stages():
    with pytest.raises(ValueError, match='five encoder stages'):
        BSDAHead(in_channels=(64, 128, 256, 512))
