"""ResNeSt against timm's ports of the official models (parameter counts and
logits of converted weights), a hand-written split-attention reference, and
the official dilated network's choices."""
import copy
import glob
import importlib
import os.path as osp

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.registry import DefaultScope, init_default_scope
from torch.nn.modules.batchnorm import _BatchNorm

import mmzoo.models  # noqa: F401  (registers ResNeSt)
from mmzoo.models.backbones.resnest import (ResNeSt, SplitAttentionConv2d,
                                            radix_softmax)
from mmzoo.models.converters.resnest import (OFFICIAL_RULES,
                                             convert_official_resnest)
from mmzoo.registry import MODELS
from mmzoo.utils.converter import rename

CONFIGS = osp.join(osp.dirname(__file__), '../../../configs/resnest')

# config -> (timm port of the official model, its parameter count as
# timm.create_model(name).parameters() counts it; the official README gives
# no counts, ../shared/PUBLISHED.md quotes timm's, rounded to 0.01 M here).
CLASSIFIERS = {
    'resnest50_32xb64_in1k': ('resnest50d', 27_483_240, 27.48),
    'resnest101_32xb64_in1k': ('resnest101e', 48_275_016, 48.28),
    'resnest200_64xb32_in1k': ('resnest200e', 70_201_544, 70.20),
    'resnest269_64xb32_in1k': ('resnest269e', 110_929_480, 110.93),
}


def build_from_config(name):
    return MODELS.build(Config.fromfile(osp.join(CONFIGS, f'{name}.py')).model)


def num_params(model):
    return sum(p.numel() for p in model.parameters())


def randomize_norm_stats(model):
    """Non-trivial BN statistics, so that a swapped BN is caught."""
    for m in model.modules():
        if isinstance(m, _BatchNorm):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 1.5)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)


def backbone_state(converted):
    return {k[len('backbone.'):]: v for k, v in converted.items()
            if k.startswith('backbone.')}


@pytest.mark.parametrize('name', sorted(CLASSIFIERS))
def test_classifier_parameter_count_matches_timm_port(name):
    _, count, millions = CLASSIFIERS[name]
    got = num_params(build_from_config(name))
    assert got == count
    assert round(got / 1e6, 2) == millions


def test_every_classification_config_is_covered():
    names = {osp.basename(p)[:-3]
             for p in glob.glob(osp.join(CONFIGS, '*_in1k.py'))}
    assert names == set(CLASSIFIERS)


@pytest.fixture(scope='module')
def official50():
    """timm's resnest50d: the official resnest50 (stem width 32, avd after
    the split-attention conv, average-pool shortcut), same keys and shapes,
    with random weights and BN statistics."""
    timm = pytest.importorskip('timm')
    torch.manual_seed(0)
    model = timm.create_model('resnest50d', pretrained=False)
    randomize_norm_stats(model)
    return model.eval()


def test_converted_official_weights_give_official_logits(official50):
    converted, arch = convert_official_resnest(official50.state_dict())
    assert arch == dict(depth=50, stem_channels=64, num_classes=1000)
    ours = build_from_config('resnest50_32xb64_in1k').eval()
    ours.load_state_dict(converted, strict=True)
    assert num_params(ours) == num_params(official50)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(ours(x, mode='tensor'), official50(x),
                                   atol=1e-5, rtol=1e-5)


# Official ablation layouts that timm ports (ablation.md): other radix and
# cardinality, avd before the split-attention conv, and radix 1 (sigmoid).
ABLATIONS = {
    'resnest50d_4s2x40d': dict(radix=4, groups=2, base_width=40,
                               avd_first=True),
    'resnest50d_1s4x24d': dict(radix=1, groups=4, base_width=24,
                               avd_first=True),
}


@pytest.mark.parametrize('name', sorted(ABLATIONS))
def test_radix_cardinality_and_avd_first_match_official_layout(name):
    timm = pytest.importorskip('timm')
    torch.manual_seed(0)
    official = timm.create_model(name, pretrained=False)
    randomize_norm_stats(official)
    official.eval()
    converted, unmatched = rename(official.state_dict(), OFFICIAL_RULES)
    assert not unmatched
    ours = ResNeSt(depth=50, out_indices=(3, ), **ABLATIONS[name]).eval()
    ours.load_state_dict(backbone_state(converted), strict=True)
    x = torch.randn(1, 3, 48, 48)
    with torch.no_grad():
        torch.testing.assert_close(ours(x)[0],
                                   official.forward_features(x),
                                   atol=1e-5, rtol=1e-5)


def reference_split_attention(module, x):
    """The split-attention of the paper written out channel by channel from
    the module's weights: splits, their pooled sum, the two-layer MLP, and a
    softmax across the radix computed by hand."""
    radix, groups, channels = module.radix, module.groups, module.channels
    conv, bn0 = module.conv.conv, module.conv.bn
    feats = F.relu(F.batch_norm(
        F.conv2d(x, conv.weight, None, conv.stride, conv.padding,
                 conv.dilation, conv.groups),
        bn0.running_mean, bn0.running_var, bn0.weight, bn0.bias, eps=bn0.eps))
    splits = [feats[:, r * channels:(r + 1) * channels] for r in range(radix)]
    gap = sum(splits).mean(dim=(2, 3), keepdim=True)
    bn1 = module.norm1
    hidden = F.relu(F.batch_norm(
        F.conv2d(gap, module.fc1.weight, module.fc1.bias, groups=groups),
        bn1.running_mean, bn1.running_var, bn1.weight, bn1.bias,
        eps=bn1.eps))
    logits = F.conv2d(hidden, module.fc2.weight, module.fc2.bias,
                      groups=groups)[:, :, 0, 0]
    # fc2 is grouped: group g writes its radix * (channels / groups) scores
    # as [split 0 channels, split 1 channels, ...].
    width = channels // groups
    out = torch.zeros_like(splits[0])
    for g in range(groups):
        for c in range(width):
            scores = [logits[:, g * radix * width + r * width + c]
                      for r in range(radix)]
            if radix > 1:
                exps = [s.exp() for s in scores]
                weights = [e / sum(exps) for e in exps]
            else:
                weights = [1 / (1 + (-scores[0]).exp())]
            for r in range(radix):
                out[:, g * width + c] += (weights[r][:, None, None] *
                                          splits[r][:, g * width + c])
    return out


@pytest.mark.parametrize('radix,groups', [(2, 1), (2, 2), (3, 2), (1, 2)])
def test_split_attention_matches_hand_written_reference(radix, groups):
    torch.manual_seed(0)
    module = SplitAttentionConv2d(12, 12, 3, padding=1, groups=groups,
                                  radix=radix)
    randomize_norm_stats(module)
    module.eval()
    x = torch.randn(2, 12, 5, 6)
    with torch.no_grad():
        torch.testing.assert_close(module(x),
                                   reference_split_attention(module, x),
                                   atol=1e-5, rtol=1e-5)


def test_radix_softmax_sums_to_one_across_radix_and_sigmoid_at_radix_1():
    logits = torch.randn(2, 2 * 3 * 4, 1, 1)  # radix 2, 3 groups of 4
    weights = radix_softmax(logits, radix=2, groups=3)
    assert weights.shape == (2, 2, 12, 1, 1)
    torch.testing.assert_close(weights.sum(dim=1), torch.ones(2, 12, 1, 1))
    single = torch.randn(2, 12, 1, 1)
    torch.testing.assert_close(
        radix_softmax(single, radix=1, groups=3)[:, 0], single.sigmoid())


def test_attention_mlp_has_at_least_32_channels():
    # in_channels * radix // reduction_factor = 16 * 2 // 4 = 8 -> 32
    assert SplitAttentionConv2d(16, 16, 3, radix=2).fc1.out_channels == 32
    assert SplitAttentionConv2d(256, 256, 3, radix=2).fc1.out_channels == 128
    model = ResNeSt(depth=50)
    # first stage: width 64, radix 2 -> 64 * 2 // 4 = 32
    assert model.layer1[0].conv2.fc1.out_channels == 32
    assert model.layer4[0].conv2.fc1.out_channels == 256


def test_output_shapes_and_strides():
    model = ResNeSt(depth=50).eval()
    outs = model(torch.rand(2, 3, 64, 96))
    assert [tuple(o.shape) for o in outs] == [
        (2, 256, 16, 24), (2, 512, 8, 12), (2, 1024, 4, 6), (2, 2048, 2, 3)]
    assert model.out_channels == (256, 512, 1024, 2048)
    # Stem widths of the official models (twice stem_width).
    assert model.stem[2].conv.out_channels == 64
    # The stride sits in the avd pool, after the split-attention conv.
    block = model.layer2[0]
    assert block.conv2.conv.stride == (1, 1)
    assert block.avd_pool.stride == 2 and not block.avd_first
    assert model.layer1[0].avd_pool is None


def dilated_timm_as_official(state_dict):
    """timm's resnest50d at output stride 8, changed where timm's dilated
    network departs from the official one (``dilated=True``): the official
    first block of a dilated stage keeps its 3×3 average pool at stride 1,
    and its shortcut pool is a 1×1 identity instead of timm's 2×2 'same'
    pool."""
    timm = pytest.importorskip('timm')
    model = timm.create_model('resnest50d', pretrained=False,
                              output_stride=8)
    model.load_state_dict(state_dict)
    for stage in (model.layer3, model.layer4):
        stage[0].avd_last = nn.AvgPool2d(3, 1, padding=1)
        stage[0].downsample[0] = nn.Identity()
    return model.eval()


def test_output_stride_8_follows_official_dilated_network(official50):
    model = ResNeSt(depth=50, strides=(1, 2, 1, 1), dilations=(1, 1, 2, 4),
                    out_indices=(1, 2, 3)).eval()
    converted, _ = convert_official_resnest(official50.state_dict())
    model.load_state_dict(backbone_state(converted))
    x = torch.randn(1, 3, 48, 64)
    with torch.no_grad():
        outs = model(x)
        assert [tuple(o.shape) for o in outs] == [
            (1, 512, 6, 8), (1, 1024, 6, 8), (1, 2048, 6, 8)]
        reference = dilated_timm_as_official(official50.state_dict())
        torch.testing.assert_close(outs[-1], reference.forward_features(x),
                                   atol=1e-5, rtol=1e-5)
    # First blocks contract the dilation (2 -> 1, 4 -> 2) and pool at
    # stride 1; the other blocks use the stage's dilation.
    dilation = [(model.layer3[0], 1), (model.layer3[1], 2),
                (model.layer4[0], 2), (model.layer4[2], 4)]
    for block, d in dilation:
        conv = block.conv2.conv.conv
        assert conv.dilation == (d, d) and conv.padding == (d, d)
    assert model.layer3[0].avd_pool.stride == 1
    assert model.layer3[1].avd_pool is None


def small(**kwargs):
    """A narrow ResNeSt-50 (all blocks, an eighth of the channels)."""
    return ResNeSt(depth=50, base_channels=8, stem_channels=16, **kwargs)


def test_frozen_stages():
    model = small(frozen_stages=1)
    model.train()
    for module in (model.stem, model.layer1):
        assert all(not p.requires_grad for p in module.parameters())
        assert all(not m.training for m in module.modules()
                   if isinstance(m, _BatchNorm))
    assert all(p.requires_grad for p in model.layer2.parameters())
    assert all(m.training for m in model.layer2.modules()
               if isinstance(m, _BatchNorm))


def test_norm_eval_keeps_running_stats():
    model = small(norm_eval=True)
    assert model.train() is model
    attention_bn = model.layer2[0].conv2.norm1
    before = attention_bn.running_mean.clone()
    model(torch.rand(2, 3, 32, 32) * 5)
    assert all(not m.training for m in model.modules()
               if isinstance(m, _BatchNorm))
    torch.testing.assert_close(attention_bn.running_mean, before)


def test_with_cp_gives_same_outputs_and_gradients():
    torch.manual_seed(0)
    plain = small(out_indices=(3, ))
    checkpointed = small(out_indices=(3, ), with_cp=True)
    checkpointed.load_state_dict(plain.state_dict())
    # eval-mode norms: BN statistics would otherwise update twice under cp
    plain.eval(), checkpointed.eval()
    x = torch.rand(2, 3, 32, 32, requires_grad=True)
    outs = [m(x)[0] for m in (plain, checkpointed)]
    torch.testing.assert_close(outs[0], outs[1])
    grads = [torch.autograd.grad(o.square().sum(), [x, *m.parameters()])
             for o, m in zip(outs, (plain, checkpointed))]
    for g_plain, g_cp in zip(*grads):
        torch.testing.assert_close(g_plain, g_cp)


# toolbox -> (our config whose model it builds, how its features are read)
UPSTREAM = {
    'mmseg': 'deeplabv3_resnest50-d8_4xb4-80k_ade20k-512x512',
    'mmdet': 'faster-rcnn_resnest50_fpn_1x_coco',
    'mmpretrain': 'resnest50_32xb64_in1k',
}


@pytest.mark.parametrize('toolbox', sorted(UPSTREAM))
def test_builds_from_upstream_registry(toolbox):
    """The model dict as a user of that toolbox writes it (no ``_scope_``,
    ``type='mmzoo.ResNeSt'``), built by the toolbox's own registry."""
    registry = importlib.import_module(f'{toolbox}.registry').MODELS
    importlib.import_module(f'{toolbox}.models')
    cfg = Config.fromfile(osp.join(CONFIGS, f'{UPSTREAM[toolbox]}.py'))
    model_cfg = copy.deepcopy(cfg.model)
    model_cfg.pop('_scope_')
    model_cfg['backbone'].pop('init_cfg', None)
    previous = DefaultScope.get_current_instance()
    init_default_scope(toolbox)
    try:
        model = registry.build(model_cfg).eval()
    finally:
        if previous is not None:
            init_default_scope(previous.scope_name)
    assert isinstance(model.backbone, ResNeSt)
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        feats = model.extract_feat(x)
    if toolbox == 'mmseg':  # output stride 8
        assert feats[3].shape == (1, 2048, 8, 8)
    elif toolbox == 'mmdet':  # FPN levels
        assert [f.shape[-1] for f in feats] == [16, 8, 4, 2, 1]
    else:
        assert feats[0].shape == (1, 2048)


def test_invalid_arguments_are_named():
    with pytest.raises(KeyError, match='invalid depth 152'):
        ResNeSt(depth=152)
    with pytest.raises(ValueError, match='radix'):
        ResNeSt(depth=50, radix=0)
    with pytest.raises(ValueError, match='out_indices'):
        ResNeSt(depth=50, out_indices=(4, ))
