"""SiamEncoderDecoder: mmseg's loss/predict interface on image pairs."""
import copy

import pytest
import torch
import torch.nn.functional as F
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from mmzoo.registry import MODELS

pytestmark = pytest.mark.default_scope('mmzoo')

MODEL = dict(
    type='mmzoo.SiamEncoderDecoder',
    data_preprocessor=dict(
        type='mmseg.SegDataPreProcessor',
        mean=[127.5] * 6,
        std=[127.5] * 6,
        bgr_to_rgb=False,
        pad_val=0,
        seg_pad_val=255,
        size=(64, 64)),
    backbone=dict(type='mmzoo.ResNet', depth=18, multi_grid=(1, 2, 4)),
    neck=dict(type='mmzoo.STANetFPN'),
    decode_head=dict(type='mmzoo.STAHead', attention='pam'),
    test_cfg=dict(mode='whole'))


def build(**test_cfg):
    cfg = copy.deepcopy(MODEL)
    if test_cfg:
        cfg['test_cfg'] = test_cfg
    torch.manual_seed(0)
    model = MODELS.build(cfg)
    model.init_weights()
    return model


def sample(h, w, **meta):
    s = SegDataSample(
        metainfo=dict(dict(img_shape=(h, w), ori_shape=(h, w)), **meta))
    label = torch.randint(0, 2, (1, h, w))
    label[:, :4] = 255  # padding-like band: ignored by the loss
    s.gt_sem_seg = PixelData(data=label)
    return s


def test_loss_through_the_data_preprocessor_and_backward():
    model = build().train()
    data = dict(
        inputs=[
            torch.randint(0, 256, (6, 64, 64), dtype=torch.uint8)
            for _ in range(2)
        ],
        data_samples=[sample(64, 64) for _ in range(2)])
    data = model.data_preprocessor(data, training=True)
    losses = model(**data, mode='loss')
    assert set(losses) == {'loss_bcl', 'acc_change'}
    assert torch.isfinite(losses['loss_bcl'])
    losses['loss_bcl'].backward()
    assert model.backbone.stem[0].conv.weight.grad.abs().sum() > 0
    assert model.decode_head.attention.fuse.weight.grad.abs().sum() > 0


def test_predict_fills_mmseg_fields_at_the_original_size():
    model = build().eval()
    inputs = torch.randn(2, 6, 64, 64)
    # The second pair was padded by 8 columns on the right and its original
    # image was 112 x 96: the padding is cut and the scores resized.
    samples = [
        sample(64, 64, padding_size=[0, 0, 0, 0]),
        sample(64, 56, ori_shape=(112, 96), padding_size=[0, 8, 0, 0])
    ]
    with torch.no_grad():
        out = model(inputs, samples, mode='predict')
    assert out[0].pred_sem_seg.data.shape == (1, 64, 64)
    assert out[1].pred_sem_seg.data.shape == (1, 112, 96)
    for s in out:
        scores = s.seg_logits.data
        assert scores.shape == s.pred_sem_seg.data.shape
        assert (scores >= 0).all()  # distances
        torch.testing.assert_close(s.pred_sem_seg.data, (scores > 1.0).long())


def test_predict_without_samples_and_tensor_mode():
    model = build().eval()
    with torch.no_grad():
        (out, ) = model(torch.randn(1, 6, 64, 64), mode='predict')
        feats = model(torch.randn(1, 6, 64, 64), mode='tensor')
    assert out.pred_sem_seg.data.shape == (1, 64, 64)
    assert set(out.pred_sem_seg.data.unique().tolist()) <= {0, 1}
    assert feats.shape == (1, 1, 16, 16)  # distances at 1/4 scale


def test_scores_are_the_head_distances_upsampled_to_the_input():
    """encode_decode hands the head the batch's size through mmseg's predict
    interface: the embeddings' distances, upsampled bilinearly with aligned
    corners to the (padded) input."""
    model = build().eval()
    inputs = torch.randn(1, 6, 64, 48)
    with torch.no_grad():
        low = model(inputs, mode='tensor')
        scores = model.encode_decode(inputs, [dict(img_shape=(60, 40))])
    torch.testing.assert_close(
        scores,
        F.interpolate(low, (64, 48), mode='bilinear', align_corners=True))


def test_identical_dates_show_no_change_and_dates_commute():
    model = build().eval()
    a, b = torch.randn(1, 3, 64, 64), torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        same = model.encode_decode(torch.cat([a, a], 1), None)
        ab = model.encode_decode(torch.cat([a, b], 1), None)
        ba = model.encode_decode(torch.cat([b, a], 1), None)
    assert same.max() < 1e-4
    torch.testing.assert_close(ab, ba, rtol=1e-4, atol=1e-5)


def test_slide_inference_covers_and_averages_windows():
    # Six windows per image, four per forward: two images' windows are
    # batched together and split back.
    model = build(
        mode='slide',
        crop_size=(64, 64),
        stride=(32, 32),
        windows_per_forward=4).eval()
    x = torch.randn(2, 6, 96, 128)
    with torch.no_grad():
        slide = model.inference(x, [{}, {}])
        # The window grid: rows at 0 and 32, columns at 0, 32 and 64; each
        # window of each image on its own.
        expected = torch.zeros(2, 1, 96, 128)
        count = torch.zeros(2, 1, 96, 128)
        for i in range(2):
            for y in (0, 32):
                for x0 in (0, 32, 64):
                    crop = x[i:i + 1, :, y:y + 64, x0:x0 + 64]
                    expected[i:i + 1, :, y:y + 64, x0:x0 + 64] += \
                        model.encode_decode(crop, None)
                    count[i:i + 1, :, y:y + 64, x0:x0 + 64] += 1
    torch.testing.assert_close(slide, expected / count, atol=1e-5, rtol=1e-5)
    # One window the size of the image is whole-image inference.
    whole = build(mode='slide', crop_size=(64, 64), stride=(32, 32)).eval()
    with torch.no_grad():
        y = torch.randn(1, 6, 64, 64)
        torch.testing.assert_close(
            whole.inference(y, [{}]), whole.encode_decode(y, None))


def test_bad_inputs_and_configs_are_named():
    model = build().eval()
    with pytest.raises(ValueError, match=r'\(1, 5, 64, 64\)'):
        model(torch.randn(1, 5, 64, 64), mode='tensor')
    with pytest.raises(ValueError, match='crop_size and stride'):
        build(mode='slide')
    with pytest.raises(ValueError, match="'whole' or 'slide'"):
        build(mode='tiles')
