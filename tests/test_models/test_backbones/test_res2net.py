"""Res2Net against the published parameter counts, timm's port of the official
implementation, and mmdet's variant (which differs on purpose)."""
import glob
import os.path as osp

import pytest
import torch
import torch.nn as nn
from mmengine.config import Config
from torch.nn.modules.batchnorm import _BatchNorm

from mmzoo.models import Res2Net
from mmzoo.registry import MODELS
from mmzoo.models.converters import convert_official_res2net

CONFIGS = osp.join(osp.dirname(__file__), '../../../configs/res2net')

# github Res2Net/Res2Net-PretrainedModels README (../shared/PUBLISHED.md),
# millions of parameters of the ImageNet classifiers, rounded as published.
PUBLISHED_PARAMS = {
    'res2net50-26w4s': 25.70,
    'res2net50-48w2s': 25.29,
    'res2net50-14w8s': 25.06,
    'res2net50-26w6s': 37.05,
    'res2net50-26w8s': 48.40,
    'res2net101-26w4s': 45.21,
    'res2next50-4w8g4s': 24.67,
    'res2net50-v1b-26w4s': 25.72,
    'res2net101-v1b-26w4s': 45.23,
}


def build_classifier(name):
    cfg = Config.fromfile(osp.join(CONFIGS, f'{name}_8xb32_in1k.py'))
    return MODELS.build(cfg.model)


def num_params(model):
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize('name', sorted(PUBLISHED_PARAMS))
def test_classifier_parameter_count_matches_paper(name):
    count = num_params(build_classifier(name))
    assert round(count / 1e6, 2) == PUBLISHED_PARAMS[name]


def test_every_classification_config_is_covered():
    names = {osp.basename(p).split('_8xb32')[0]
             for p in glob.glob(osp.join(CONFIGS, '*_in1k.py'))}
    assert names == set(PUBLISHED_PARAMS)


# mmzoo variant -> timm model built from the official code's layout
TIMM_EQUIVALENT = {
    'res2net50-26w4s': 'res2net50_26w_4s',
    'res2net50-48w2s': 'res2net50_48w_2s',
    'res2next50-4w8g4s': 'res2next50',
    'res2net50-v1b-26w4s': 'res2net50d',
}


@pytest.mark.parametrize('name', sorted(TIMM_EQUIVALENT))
def test_converted_official_weights_give_official_logits(name):
    timm = pytest.importorskip('timm')
    torch.manual_seed(0)
    official = timm.create_model(TIMM_EQUIVALENT[name], pretrained=False)
    randomize_norm_stats(official)
    official.eval()
    converted, _ = convert_official_res2net(official.state_dict())
    ours = build_classifier(name).eval()
    ours.load_state_dict(converted, strict=True)
    assert num_params(ours) == num_params(official)
    x = torch.randn(2, 3, 96, 96)
    with torch.no_grad():
        expected = official(x)
        got = ours(x, mode='tensor')
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)


def randomize_norm_stats(model):
    """Non-trivial BN statistics, so that a swapped BN is caught."""
    for m in model.modules():
        if isinstance(m, _BatchNorm):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 1.5)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)


def official_v1b_to_mmdet(state_dict):
    """Rename official v1b keys to mmdet's Res2Net (same modules, other
    names): the deep stem is mmdet's ``stem`` with the last norm inside."""
    stem = {'conv1.0': 'stem.0', 'conv1.1': 'stem.1', 'conv1.3': 'stem.3',
            'conv1.4': 'stem.4', 'conv1.6': 'stem.6', 'bn1': 'stem.7'}
    out = {}
    for key, value in state_dict.items():
        if key.startswith('fc.'):
            continue
        prefix, _, rest = key.rpartition('.')
        out[f'{stem.get(prefix, prefix)}.{rest}'] = value
    return out


def test_stage_block_pools_at_stride_one_unlike_mmdet():
    """The official stage block average-pools its last split even at stride
    1 (layer1, and dilated stages); mmdet passes it through unpooled. With
    the same weights, mmdet's output differs from the official one, and ours
    equals mmdet's exactly when those pools are removed."""
    timm = pytest.importorskip('timm')
    from mmdet.models.backbones import Res2Net as MMDetRes2Net
    torch.manual_seed(0)
    official = timm.create_model('res2net50d', pretrained=False).eval()
    randomize_norm_stats(official)
    official_sd = official.state_dict()

    ours = Res2Net(depth=50, deep_stem=True, avg_down=True,
                   out_indices=(0, 1, 2, 3)).eval()
    converted, _ = convert_official_res2net(official_sd)
    ours.load_state_dict({k[len('backbone.'):]: v for k, v in
                          converted.items() if k.startswith('backbone.')})
    mmdet = MMDetRes2Net(depth=50, scales=4, base_width=26,
                         out_indices=(0, 1, 2, 3))
    mmdet.eval()  # mmdet's train() returns None, so no chaining
    mmdet.load_state_dict(official_v1b_to_mmdet(official_sd), strict=True)

    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        reference = official.forward_features(x)
        ours_out = ours(x)
        mmdet_out = mmdet(x)
        torch.testing.assert_close(ours_out[-1], reference, atol=1e-5,
                                   rtol=1e-5)
        assert not torch.allclose(mmdet_out[0], ours_out[0], atol=1e-3)
        # Stage 1's first block is the only stride-1 stage block here.
        ours.layer1[0].pool = nn.Identity()
        for a, b in zip(ours(x), mmdet_out):
            torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize('deep_stem', [False, True])
def test_output_shapes_and_strides(deep_stem):
    model = Res2Net(depth=50, deep_stem=deep_stem, avg_down=deep_stem)
    outs = model(torch.rand(2, 3, 64, 96))
    assert [tuple(o.shape) for o in outs] == [
        (2, 256, 16, 24), (2, 512, 8, 12), (2, 1024, 4, 6), (2, 2048, 2, 3)]
    assert model.out_channels == (256, 512, 1024, 2048)


def test_output_stride_8_with_dilation():
    model = Res2Net(depth=50, strides=(1, 2, 1, 1), dilations=(1, 1, 2, 4),
                    out_indices=(1, 3))
    outs = model(torch.rand(1, 3, 64, 64))
    assert [tuple(o.shape) for o in outs] == [(1, 512, 8, 8),
                                              (1, 2048, 8, 8)]
    conv = model.layer4[1].convs[0].conv
    assert conv.dilation == (4, 4) and conv.padding == (4, 4)


def test_res2next_uses_grouped_split_convolutions():
    model = Res2Net(depth=50, base_width=4, groups=8)
    conv = model.layer1[0].convs[0].conv
    # width = floor(64 * 4 / 64) * 8 channels, in 8 groups
    assert (conv.in_channels, conv.groups) == (32, 8)


def test_frozen_stages():
    model = Res2Net(depth=50, frozen_stages=1)
    model.train()
    for module in (model.stem, model.layer1):
        assert all(not p.requires_grad for p in module.parameters())
        assert all(not m.training for m in module.modules()
                   if isinstance(m, _BatchNorm))
    assert all(p.requires_grad for p in model.layer2.parameters())
    assert all(m.training for m in model.layer2.modules()
               if isinstance(m, _BatchNorm))


def test_norm_eval_keeps_running_stats():
    model = Res2Net(depth=50, norm_eval=True)
    assert model.train() is model  # the nn.Module contract
    bn = model.layer2[0].conv1.bn
    before = bn.running_mean.clone()
    model(torch.rand(2, 3, 32, 32) * 5)
    assert all(not m.training for m in model.modules()
               if isinstance(m, _BatchNorm))
    torch.testing.assert_close(bn.running_mean, before)


def test_with_cp_gives_same_outputs_and_gradients():
    torch.manual_seed(0)
    plain = Res2Net(depth=50, out_indices=(3, ))
    checkpointed = Res2Net(depth=50, out_indices=(3, ), with_cp=True)
    checkpointed.load_state_dict(plain.state_dict())
    # eval-mode norms: BN statistics would otherwise update twice under cp
    plain.eval(), checkpointed.eval()
    x = torch.rand(2, 3, 32, 32, requires_grad=True)
    outs = [m(x)[0] for m in (plain, checkpointed)]
    torch.testing.assert_close(outs[0], outs[1])
    grads = [torch.autograd.grad(o.square().sum(),
                                 [x, *m.parameters()])
             for o, m in zip(outs, (plain, checkpointed))]
    for g_plain, g_cp in zip(*grads):
        torch.testing.assert_close(g_plain, g_cp)


def test_invalid_arguments_are_named():
    with pytest.raises(KeyError, match='invalid depth 34'):
        Res2Net(depth=34)
    with pytest.raises(ValueError, match='out_indices'):
        Res2Net(depth=50, out_indices=(4, ))
    with pytest.raises(ValueError, match='dilations'):
        Res2Net(depth=50, dilations=(1, 1, 2))
