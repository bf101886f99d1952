"""Res2Net against the published parameter counts, timm's port of the official
implementation, and mmdet's variant (which differs on purpose)."""
import pytest
import torch
import torch.nn as nn
from mmzoo_testing import (build_model, classifier_configs, num_params,
                           published_params, timm_reference, variant)

from mmzoo.models import Res2Net
from mmzoo.models.converters import convert_official_res2net


@pytest.mark.parametrize('config', classifier_configs('res2net'), ids=variant)
def test_classifier_parameter_count_matches_paper(config):
    """The official README gives millions to two decimals."""
    count = num_params(build_model(config))
    assert round(count / 1e6, 2) == published_params(config) / 1e6


def official_v1b_to_mmdet(state_dict):
    """Rename official v1b keys to mmdet's Res2Net (same modules, other
    names): the deep stem is mmdet's ``stem`` with the last norm inside."""
    stem = {
        'conv1.0': 'stem.0',
        'conv1.1': 'stem.1',
        'conv1.3': 'stem.3',
        'conv1.4': 'stem.4',
        'conv1.6': 'stem.6',
        'bn1': 'stem.7'
    }
    out = {}
    for key, value in state_dict.items():
        if key.startswith('fc.'):
            continue
        prefix, _, rest = key.rpartition('.')
        out[f'{stem.get(prefix, prefix)}.{rest}'] = value
    return out


def test_stage_block_pools_at_stride_one_unlike_mmdet():
    """The official stage block average-pools its last split even at stride 1
    (layer1, and dilated stages); mmdet passes it through unpooled.

    With the same weights, mmdet's output differs from the official one, and
    ours equals mmdet's exactly when those pools are removed.
    """
    from mmdet.models.backbones import Res2Net as MMDetRes2Net
    official = timm_reference('res2net50d')
    official_sd = official.state_dict()

    ours = Res2Net(
        depth=50, deep_stem=True, avg_down=True,
        out_indices=(0, 1, 2, 3)).eval()
    converted, _ = convert_official_res2net(official_sd)
    ours.load_state_dict({
        k[len('backbone.'):]: v
        for k, v in converted.items() if k.startswith('backbone.')
    })
    mmdet = MMDetRes2Net(
        depth=50, scales=4, base_width=26, out_indices=(0, 1, 2, 3))
    mmdet.eval()  # mmdet's train() returns None, so no chaining
    mmdet.load_state_dict(official_v1b_to_mmdet(official_sd), strict=True)

    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        reference = official.forward_features(x)
        ours_out = ours(x)
        mmdet_out = mmdet(x)
        torch.testing.assert_close(
            ours_out[-1], reference, atol=1e-5, rtol=1e-5)
        assert not torch.allclose(mmdet_out[0], ours_out[0], atol=1e-3)
        # Stage 1's first block is the only stride-1 stage block here.
        ours.layer1[0].pool = nn.Identity()
        for a, b in zip(ours(x), mmdet_out):
            torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize('deep_stem', [False, True])
def test_output_shapes_and_strides(deep_stem):
    model = Res2Net(depth=50, deep_stem=deep_stem, avg_down=deep_stem)
    outs = model(torch.rand(2, 3, 64, 96))
    assert [tuple(o.shape) for o in outs] == [(2, 256, 16, 24),
                                              (2, 512, 8, 12), (2, 1024, 4, 6),
                                              (2, 2048, 2, 3)]
    assert model.out_channels == (256, 512, 1024, 2048)


def test_output_stride_8_with_dilation():
    model = Res2Net(
        depth=50,
        strides=(1, 2, 1, 1),
        dilations=(1, 1, 2, 4),
        out_indices=(1, 3))
    outs = model(torch.rand(1, 3, 64, 64))
    assert [tuple(o.shape) for o in outs] == [(1, 512, 8, 8), (1, 2048, 8, 8)]
    conv = model.layer4[1].convs[0].conv
    assert conv.dilation == (4, 4) and conv.padding == (4, 4)


def test_res2next_uses_grouped_split_convolutions():
    model = Res2Net(depth=50, base_width=4, groups=8)
    conv = model.layer1[0].convs[0].conv
    # width = floor(64 * 4 / 64) * 8 channels, in 8 groups
    assert (conv.in_channels, conv.groups) == (32, 8)


def test_invalid_arguments_are_named():
    with pytest.raises(KeyError, match='invalid depth 34'):
        Res2Net(depth=34)
    with pytest.raises(ValueError, match='out_indices'):
        Res2Net(depth=50, out_indices=(4, ))
    with pytest.raises(ValueError, match='dilations'):
        Res2Net(depth=50, dilations=(1, 1, 2))
