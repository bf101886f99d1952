"""ResNeSt against timm's ports of the official models (parameter counts and
logits of converted weights), a hand-written split-attention reference, and the
official dilated network's choices."""
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmzoo_testing import (build_model, classifier_configs, num_params,
                           published_params, randomize_norms, timm_reference,
                           variant)

from mmzoo.models.backbones.resnest import (ResNeSt, SplitAttentionConv2d,
                                            radix_softmax)
from mmzoo.models.converters.resnest import (OFFICIAL_RULES,
                                             convert_official_resnest)
from mmzoo.utils.converter import rename


def backbone_state(converted):
    return {
        k[len('backbone.'):]: v
        for k, v in converted.items() if k.startswith('backbone.')
    }


@pytest.mark.parametrize('config', classifier_configs('resnest'), ids=variant)
def test_classifier_parameter_count_matches_timm_port(config):
    """The official README gives no counts: the metafile's are those of timm's
    ports of the official models (resnest50d, resnest101e, resnest200e,
    resnest269e), exact."""
    assert num_params(build_model(config)) == published_params(config)


@pytest.fixture(scope='module')
def official50():
    """timm's resnest50d: the official resnest50 (stem width 32, avd after the
    split-attention conv, average-pool shortcut), same keys and shapes, with
    random weights and BN statistics."""
    return timm_reference('resnest50d')


# Official ablation layouts that timm ports (ablation.md): other radix and
# cardinality, avd before the split-attention conv, and radix 1 (sigmoid).
ABLATIONS = {
    'resnest50d_4s2x40d':
    dict(radix=4, groups=2, base_width=40, avd_first=True),
    'resnest50d_1s4x24d':
    dict(radix=1, groups=4, base_width=24, avd_first=True),
}


@pytest.mark.parametrize('name', sorted(ABLATIONS))
def test_radix_cardinality_and_avd_first_match_official_layout(name):
    official = timm_reference(name)
    converted, unmatched = rename(official.state_dict(), OFFICIAL_RULES)
    assert not unmatched
    ours = ResNeSt(depth=50, out_indices=(3, ), **ABLATIONS[name]).eval()
    ours.load_state_dict(backbone_state(converted), strict=True)
    x = torch.randn(1, 3, 48, 48)
    with torch.no_grad():
        torch.testing.assert_close(
            ours(x)[0], official.forward_features(x), atol=1e-5, rtol=1e-5)


def reference_split_attention(module, x):
    """The split-attention of the paper written out channel by channel from the
    module's weights: splits, their pooled sum, the two-layer MLP, and a
    softmax across the radix computed by hand."""
    radix, groups, channels = module.radix, module.groups, module.channels
    conv, bn0 = module.conv.conv, module.conv.bn
    feats = F.relu(
        F.batch_norm(
            F.conv2d(x, conv.weight, None, conv.stride, conv.padding,
                     conv.dilation, conv.groups),
            bn0.running_mean,
            bn0.running_var,
            bn0.weight,
            bn0.bias,
            eps=bn0.eps))
    splits = [feats[:, r * channels:(r + 1) * channels] for r in range(radix)]
    gap = sum(splits).mean(dim=(2, 3), keepdim=True)
    bn1 = module.norm1
    hidden = F.relu(
        F.batch_norm(
            F.conv2d(gap, module.fc1.weight, module.fc1.bias, groups=groups),
            bn1.running_mean,
            bn1.running_var,
            bn1.weight,
            bn1.bias,
            eps=bn1.eps))
    logits = F.conv2d(
        hidden, module.fc2.weight, module.fc2.bias, groups=groups)[:, :, 0, 0]
    # fc2 is grouped: group g writes its radix * (channels / groups) scores
    # as [split 0 channels, split 1 channels, ...].
    width = channels // groups
    out = torch.zeros_like(splits[0])
    for g in range(groups):
        for c in range(width):
            scores = [
                logits[:, g * radix * width + r * width + c]
                for r in range(radix)
            ]
            if radix > 1:
                exps = [s.exp() for s in scores]
                weights = [e / sum(exps) for e in exps]
            else:
                weights = [1 / (1 + (-scores[0]).exp())]
            for r in range(radix):
                out[:, g * width + c] += (
                    weights[r][:, None, None] * splits[r][:, g * width + c])
    return out


@pytest.mark.parametrize('radix,groups', [(2, 1), (2, 2), (3, 2), (1, 2)])
def test_split_attention_matches_hand_written_reference(radix, groups):
    torch.manual_seed(0)
    module = SplitAttentionConv2d(
        12, 12, 3, padding=1, groups=groups, radix=radix)
    randomize_norms(module)
    module.eval()
    x = torch.randn(2, 12, 5, 6)
    with torch.no_grad():
        torch.testing.assert_close(
            module(x),
            reference_split_attention(module, x),
            atol=1e-5,
            rtol=1e-5)


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
    assert [tuple(o.shape) for o in outs] == [(2, 256, 16, 24),
                                              (2, 512, 8, 12), (2, 1024, 4, 6),
                                              (2, 2048, 2, 3)]
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
    first block of a dilated stage keeps its 3×3 average pool at stride 1, and
    its shortcut pool is a 1×1 identity instead of timm's 2×2 'same' pool."""
    timm = pytest.importorskip('timm')
    model = timm.create_model('resnest50d', pretrained=False, output_stride=8)
    model.load_state_dict(state_dict)
    for stage in (model.layer3, model.layer4):
        stage[0].avd_last = nn.AvgPool2d(3, 1, padding=1)
        stage[0].downsample[0] = nn.Identity()
    return model.eval()


def test_output_stride_8_follows_official_dilated_network(official50):
    model = ResNeSt(
        depth=50,
        strides=(1, 2, 1, 1),
        dilations=(1, 1, 2, 4),
        out_indices=(1, 2, 3)).eval()
    converted, _ = convert_official_resnest(official50.state_dict())
    model.load_state_dict(backbone_state(converted))
    x = torch.randn(1, 3, 48, 64)
    with torch.no_grad():
        outs = model(x)
        assert [tuple(o.shape) for o in outs] == [(1, 512, 6, 8),
                                                  (1, 1024, 6, 8),
                                                  (1, 2048, 6, 8)]
        reference = dilated_timm_as_official(official50.state_dict())
        torch.testing.assert_close(
            outs[-1], reference.forward_features(x), atol=1e-5, rtol=1e-5)
    # First blocks contract the dilation (2 -> 1, 4 -> 2) and pool at
    # stride 1; the other blocks use the stage's dilation.
    dilation = [(model.layer3[0], 1), (model.layer3[1], 2),
                (model.layer4[0], 2), (model.layer4[2], 4)]
    for block, d in dilation:
        conv = block.conv2.conv.conv
        assert conv.dilation == (d, d) and conv.padding == (d, d)
    assert model.layer3[0].avd_pool.stride == 1
    assert model.layer3[1].avd_pool is None


def test_invalid_arguments_are_named():
    with pytest.raises(KeyError, match='invalid depth 152'):
        ResNeSt(depth=152)
    with pytest.raises(ValueError, match='radix'):
        ResNeSt(depth=50, radix=0)
    with pytest.raises(ValueError, match='out_indices'):
        ResNeSt(depth=50, out_indices=(4, ))
