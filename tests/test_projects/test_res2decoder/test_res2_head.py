"""Res2Head in mmseg's EncoderDecoder as the project's configs build it, in
FCNHead's single-input place, and the parameter budget of the attention
variant, counted by hand."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample
from mmzoo_testing import REPO, num_params

import projects.res2decoder.res2decoder  # noqa: F401 (registers)
from mmzoo.registry import MODELS

CONFIGS = osp.join(REPO, 'projects', 'res2decoder', 'configs')
SEG = 'r18-w32-d8_1xb8-500iter_scaleseg-64x64'


def build(name):
    return MODELS.build(Config.fromfile(osp.join(CONFIGS, name)).model)


def head_cfg(**kwargs):
    cfg = dict(
        type='mmzoo.Res2Head',
        in_channels=[8, 16, 32, 64],
        in_index=[0, 1, 2, 3],
        input_transform='multiple_select',
        channels=32,
        num_blocks=2,
        scales=4,
        base_width=64,
        num_classes=5,
        norm_cfg=dict(type='BN'),
        loss_decode=dict(
            _scope_='mmseg', type='CrossEntropyLoss', loss_weight=1.0))
    cfg.update(kwargs)
    return cfg


def features():
    return [
        torch.randn(2, c, 16 // 2**i, 16 // 2**i)
        for i, c in enumerate((8, 16, 32, 64))
    ]


def test_in_encoder_decoder_of_the_config():
    torch.manual_seed(0)
    model = build(f'res2head-32w4s_{SEG}.py')
    assert type(model.decode_head).__name__ == 'Res2Head'
    images = torch.randn(2, 3, 64, 64)
    # mode='tensor': logits at the finest input's size, 1/4 of the image.
    assert model(images).shape == (2, 6, 16, 16)
    samples = []
    for _ in range(2):
        sample = SegDataSample()
        sample.gt_sem_seg = PixelData(data=torch.randint(0, 6, (1, 64, 64)))
        sample.set_metainfo(dict(img_shape=(64, 64), ori_shape=(64, 64)))
        samples.append(sample)
    losses = model.loss(images, samples)
    loss = sum(v for k, v in losses.items() if 'loss' in k)
    assert torch.isfinite(loss)
    loss.backward()
    assert all(p.grad is not None for p in model.decode_head.parameters())
    model.eval()
    with torch.no_grad():
        pred = model.predict(images, samples)
    assert pred[0].pred_sem_seg.data.shape == (1, 64, 64)


@pytest.mark.parametrize('transform', [None, 'resize_concat'])
def test_single_input_like_fcn_head(transform):
    if transform is None:
        cfg = head_cfg(in_channels=64, in_index=3, input_transform=None)
    else:
        cfg = head_cfg(input_transform=transform)
    head = MODELS.build(cfg)
    assert head.merge is None
    out = head(features())
    size = 2 if transform is None else 16
    assert out.shape == (2, 5, size, size)


def test_attention_has_the_chain_parameter_budget():
    # Same convolutions one for one; attention adds a query and a key of
    # 8 channels per split width per block: 2 blocks * 2 * 32 * 8 weights.
    chain = build(f'res2head-32w4s_{SEG}.py').decode_head
    attention = build(f'res2head-attn-32w4s_{SEG}.py').decode_head
    width = chain.fusion[0].width
    assert width == 32
    extra = num_params(attention) - num_params(chain)
    assert extra == 2 * 2 * width * 8 == 1024
    # The stated tolerance: within 0.5% of the chain head.
    assert extra / num_params(chain) < 0.005


def test_neck_attention_has_the_chain_parameter_budget():
    cfg = dict(type='mmzoo.Res2STANetFPN', scales=4, base_width=26)
    chain = MODELS.build(cfg)
    attention = MODELS.build(dict(cfg, mixing='attention', key_channels=8))
    extra = num_params(attention) - num_params(chain)
    assert extra == 2 * 26 * 8
    assert extra / num_params(chain) < 0.005
