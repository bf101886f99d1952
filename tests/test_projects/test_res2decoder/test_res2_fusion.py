"""Res2Fusion and the attention block: the chain's growing receptive field,
which attention between splits removes, worked out by hand; the attention
against a plain per-pixel loop; the split widths of Res2Net's rule."""
import math

import pytest
import torch

from mmzoo.models.utils import Bottle2neck
from projects.res2decoder.res2decoder import (GroupAttentionBottle2neck,
                                              Res2Fusion)


def split_reach(block, size=15):
    """For each split of the block's multi-scale output, how far (in pixels,
    Chebyshev distance) from the centre pixel the input reaches it."""
    block.eval()
    width = block.width
    x = torch.randn(4, block.conv1.conv.in_channels, size, size)
    x.requires_grad_(True)
    out = block._multi_scale(x)
    reach = []
    c = size // 2
    for i in range(out.shape[1] // width):
        grad, = torch.autograd.grad(
            out[:, i * width:(i + 1) * width, c, c].sum(),
            x,
            retain_graph=True)
        ys, xs = torch.nonzero(grad.abs().sum(dim=(0, 1)), as_tuple=True)
        reach.append(int(max((ys - c).abs().max(), (xs - c).abs().max())))
    return reach


@pytest.mark.parametrize('scales', [2, 4, 8])
def test_chain_reach_grows_one_pixel_per_split(scales):
    # conv1 is 1x1 and each split's 3x3 convolution also takes the previous
    # split's output, so split i (from 0) sees i + 1 pixels around; the last
    # split passes through conv1 alone.
    torch.manual_seed(0)
    block = Res2Fusion(32, 1, scales, base_width=64)[0]
    assert split_reach(block) == list(range(1, scales)) + [0]


def test_attention_between_splits_keeps_every_reach_at_one_conv():
    torch.manual_seed(0)
    block = Res2Fusion(32, 1, 4, base_width=64, mixing='attention')[0]
    assert split_reach(block) == [1, 1, 1, 0]


def test_attention_matches_a_per_pixel_loop():
    torch.manual_seed(0)
    block = GroupAttentionBottle2neck(
        16, 4, 4, 64, 1, 1, None, 3, conv_cfg=None,
        norm_cfg=dict(type='BN')).eval()
    x = torch.randn(2, 16, 5, 5)
    with torch.no_grad():
        splits = block.conv1(x)
        out = block._multi_scale(x)
        wq = block.query.weight[:, :, 0, 0]
        wk = block.key.weight[:, :, 0, 0]
        mixed = torch.empty_like(splits)
        w = block.width
        for n in range(2):
            for y in range(5):
                for z in range(5):
                    tokens = [
                        splits[n, i * w:(i + 1) * w, y, z] for i in range(4)
                    ]
                    for i in range(4):
                        scores = torch.stack([
                            (wq @ tokens[i]) @ (wk @ tokens[j]) / math.sqrt(3)
                            for j in range(4)
                        ])
                        weights = torch.exp(scores) / torch.exp(scores).sum()
                        mixed[n, i * w:(i + 1) * w, y,
                              z] = tokens[i] + sum(weights[j] * tokens[j]
                                                   for j in range(4))
        expected = torch.cat(
            [
                conv(mixed[:, i * w:(i + 1) * w])
                for i, conv in enumerate(block.convs)
            ] + [mixed[:, 3 * w:]],
            dim=1)
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    'channels,scales,base_width,groups,width',
    [
        (256, 4, 26, 1, 26),  # Res2Net-50's 26w4s, planes 64
        (128, 2, 128, 1, 64),
        (128, 4, 64, 1, 32),
        (128, 8, 32, 1, 16),
        (128, 4, 32, 4, 64),  # floor(32 * 32 / 64) * 4
    ])
def test_split_width_follows_res2net(channels, scales, base_width, groups,
                                     width):
    fusion = Res2Fusion(channels, 2, scales, base_width, groups)
    assert len(fusion) == 2
    for block in fusion:
        assert isinstance(block, Bottle2neck)
        assert block.width == width
        assert block.conv1.conv.out_channels == width * scales
        assert block.conv3.conv.out_channels == channels
        assert [c.conv.groups for c in block.convs] == [groups] * (scales - 1)


def test_bad_settings_are_named():
    with pytest.raises(ValueError, match='mixing'):
        Res2Fusion(64, 1, 4, 26, mixing='heads')
    with pytest.raises(ValueError, match='multiple of 4'):
        Res2Fusion(66, 1, 4, 26)
    with pytest.raises(ValueError, match='base_width=2'):
        Res2Fusion(64, 1, 4, 2)
    with pytest.raises(ValueError, match='scales >= 2'):
        Res2Fusion(64, 1, 1, 26, mixing='attention')
