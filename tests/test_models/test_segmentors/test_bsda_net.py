"""BSDANet: its encoders and classifier branch against the official
structure rebuilt from torchvision's ResNet-34 (github llmir/MultitaskOCTA,
smp_model.py ``MyResNetEncoderMulti``, whose encoders are torchvision's
ResNets), the classification loss's warm-up switch, and the fields that
``predict`` fills for mmseg's test loop, metric and visualiser."""
import re

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from mmzoo.models.converters.resnet import TORCHVISION_RULES
from mmzoo.registry import MODELS

ENCODER = dict(type='mmzoo.ResNet', depth=34, in_channels=1)


def build(encoder=ENCODER, num_classes=3):
    model = MODELS.build(
        dict(
            type='mmzoo.BSDANet',
            data_preprocessor=dict(
                type='mmseg.SegDataPreProcessor', mean=[0.0], std=[1.0]),
            backbone=encoder,
            decode_head=dict(type='mmzoo.BSDAHead'),
            cls_head=dict(
                type='mmzoo.BSDAClassifier',
                encoder=encoder,
                num_classes=num_classes)))
    model.init_weights()
    return model


@pytest.fixture(scope='module')
def model():
    torch.manual_seed(0)
    return build()


@pytest.fixture(scope='module')
def small_model():
    """ResNet-18 encoders: the same wiring, quicker to train a step."""
    torch.manual_seed(0)
    return build(dict(ENCODER, depth=18))


def torchvision_twin(backbone):
    """torchvision's ResNet-34 (one input channel) holding ``backbone``'s
    weights, mapped with the key rules of our torchvision converter."""
    tv = torchvision.models.resnet34()
    tv.conv1 = nn.Conv2d(1, 64, 7, 2, 3, bias=False)
    ours = backbone.state_dict()
    state = {}
    for key in tv.state_dict():
        if key.startswith('fc.'):
            continue
        for pattern, template in TORCHVISION_RULES:
            if re.match(pattern, key):
                state[key] = ours[re.sub(pattern, template,
                                         key)[len('backbone.'):]]
                break
    tv.load_state_dict(state, strict=False)
    return tv.eval()


def test_encoder_parameters_are_torchvision_resnet34(model):
    tv = torchvision.models.resnet34()
    expected = sum(p.numel() for p in tv.parameters()) - sum(
        p.numel() for p in tv.fc.parameters()) - 2 * 64 * 7 * 7
    for encoder in (model.backbone, model.cls_head.encoder):
        assert sum(p.numel() for p in encoder.parameters()) == expected


def test_encoder_and_classifier_follow_the_official_code(model):
    model.eval()
    torch.manual_seed(1)
    # Sides that are no multiples of 32, which the official code cannot
    # take: the decoders' features still meet the classifier's stages.
    img = torch.randn(2, 1, 48, 40)
    with torch.no_grad():
        # The shared encoder: smp's ResNetEncoder stages.
        tv = torchvision_twin(model.backbone)
        x = tv.relu(tv.bn1(tv.conv1(img)))
        expected = [x]
        for layer in (nn.Sequential(tv.maxpool, tv.layer1), tv.layer2,
                      tv.layer3, tv.layer4):
            x = layer(x)
            expected.append(x)
        feats = model.extract_feat(img)
        for got, want in zip(feats, expected):
            torch.testing.assert_close(got, want)

        # MyResNetEncoderMulti.forward with the decoders' features.
        dec = model.decode_head(feats)['decoder_feats']
        cls = model.cls_head
        tv = torchvision_twin(cls.encoder)
        stages = [
            nn.Sequential(tv.conv1, tv.bn1, tv.relu),
            nn.Sequential(tv.maxpool, tv.layer1), tv.layer2, tv.layer3,
            tv.layer4
        ]
        x = img
        for i, stage in enumerate(stages):
            x = stage(x)
            if 0 < i + 1 < 5:
                x = cls.fuse[i](
                    torch.cat([x, dec[0][i], dec[1][i], dec[2][i]], 1))
        want = cls.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))
        torch.testing.assert_close(cls(img, dec), want)


def training_batch(n=2, size=(32, 32)):
    torch.manual_seed(2)
    img = torch.randn(n, 1, *size)
    samples = []
    for i in range(n):
        mask = torch.zeros(1, *size, dtype=torch.long)
        mask[:, 10:20, 12:22] = 1
        s = SegDataSample()
        s.gt_sem_seg = PixelData(data=mask)
        s.gt_heatmap = PixelData(data=torch.rand(1, *size))
        s.gt_sdm = PixelData(data=torch.rand(1, *size) * 2 - 1)
        s.gt_class = torch.tensor(i % 3)
        samples.append(s)
    return img, samples


def test_classification_loss_follows_the_switch(small_model):
    model = small_model
    model.train()
    img, samples = training_batch()
    model.train_cls = False
    losses = model.loss(img, samples)
    assert set(losses) == {'loss_mask', 'loss_heatmap', 'loss_sdm'}
    model.zero_grad()
    sum(losses.values()).backward()
    assert all(p.grad is None for p in model.cls_head.parameters())

    model.train_cls = True
    losses = model.loss(img, samples)
    assert set(losses) == {
        'loss_mask', 'loss_heatmap', 'loss_sdm', 'loss_cls', 'acc_cls'
    }
    # The cross-entropy alone trains the decoders and the shared encoder
    # through the fused features, as in the official joint training.
    model.zero_grad()
    losses['loss_cls'].backward()
    for module in (model.backbone, model.decode_head.mask_decoder,
                   model.decode_head.boundary_decoder,
                   model.decode_head.distance_decoder):
        assert any(p.grad is not None and p.grad.abs().sum() > 0
                   for p in module.parameters())
    # The heads' last convolutions do not feed the classifier.
    assert model.decode_head.conv_sdm.weight.grad is None


def test_predict_fills_the_contract_fields(small_model):
    model = small_model
    model.eval()
    img = torch.randn(2, 1, 64, 64)
    # Sample 0: a 60x62 image padded to 64x64, originally 120x124; sample
    # 1: flipped horizontally, at its original size.
    metas = [
        dict(
            ori_shape=(120, 124),
            img_shape=(60, 62),
            padding_size=[0, 2, 0, 4]),
        dict(
            ori_shape=(64, 64),
            img_shape=(64, 64),
            flip=True,
            flip_direction='horizontal')
    ]
    samples = [SegDataSample(metainfo=m) for m in metas]
    with torch.no_grad():
        mask, heatmap, sdm, logits = model._forward(img)
        results = model.predict(img, samples)
    for r, (h, w) in zip(results, [(120, 124), (64, 64)]):
        assert r.pred_sem_seg.data.shape == (1, h, w)
        assert r.pred_sem_seg.data.dtype == torch.int64
        for key in ('seg_logits', 'pred_heatmap', 'pred_sdm'):
            assert r.get(key).data.shape == (1, h, w)
            assert r.get(key).data.dtype == torch.float32
        assert torch.equal(r.pred_sem_seg.data, (r.seg_logits.data
                                                 > 0.5).long())
        assert r.pred_class.dim() == 0 and r.pred_class.dtype == torch.int64
        assert r.pred_class_score.shape == (3, )
    scores = logits.softmax(1)
    for i, r in enumerate(results):
        torch.testing.assert_close(r.pred_class_score, scores[i])
        assert r.pred_class.item() == scores[i].argmax().item()
    # Padding cut off, then resized; the flip undone.
    want = F.interpolate(
        heatmap[:1, :, :60, :62], size=(120, 124), mode='bilinear')
    torch.testing.assert_close(results[0].pred_heatmap.data, want[0])
    torch.testing.assert_close(results[1].pred_sdm.data, sdm[1].flip(2))
    torch.testing.assert_close(results[1].seg_logits.data,
                               mask[1].flip(2).sigmoid())


def test_predict_without_samples(small_model):
    model = small_model
    model.eval()
    with torch.no_grad():
        (result, ) = model.predict(torch.randn(1, 1, 32, 48))
    assert result.pred_sem_seg.data.shape == (1, 32, 48)


def test_configuration_errors():
    with pytest.raises(TypeError, match='not a ResNet-family backbone'):
        MODELS.build(
            dict(
                type='mmzoo.BSDANet',
                backbone=dict(type='mmzoo.SwinTransformer', arch='tiny'),
                decode_head=dict(type='mmzoo.BSDAHead'),
                cls_head=dict(type='mmzoo.BSDAClassifier', encoder=ENCODER)))
    with pytest.raises(ValueError, match="mode must be 'whole'"):
        MODELS.build(
            dict(
                type='mmzoo.BSDANet',
                backbone=ENCODER,
                decode_head=dict(type='mmzoo.BSDAHead'),
                cls_head=dict(type='mmzoo.BSDAClassifier', encoder=ENCODER),
                test_cfg=dict(mode='slide')))


def test_missing_class_is_named(small_model):
    model = small_model
    model.train()
    img, samples = training_batch()
    del samples[1].gt_class
    model.train_cls = True
    with pytest.raises(KeyError, match='gt_class.*sample 1'):
        model.loss(img, samples)
