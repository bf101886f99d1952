"""convert_official_swin: the official release's layout (timm's Swin-T
re-keyed as the official checkpoints are), its buffers validated and dropped,
mis-shaped weights named."""
import re

import pytest
import torch
from mmzoo_testing import official_swin_checkpoint, timm_reference

from mmzoo.models.converters import convert_official_swin


@pytest.fixture(scope='module')
def official():
    """timm's port of the official Swin-T, random weights and norms."""
    return timm_reference('swin_tiny_patch4_window7_224')


def test_official_layout_has_the_buffers(official):
    state = official_swin_checkpoint(official)['model']
    assert 'layers.0.downsample.reduction.weight' in state
    assert 'layers.3.downsample.reduction.weight' not in state
    assert state['layers.0.blocks.1.attn_mask'].shape == (64, 49, 49)
    # The last stage is one 7×7 window at 224²: the official model does not
    # shift it, so it has no mask.
    assert 'layers.3.blocks.1.attn_mask' not in state
    assert 'layers.3.blocks.1.attn.relative_position_index' in state


def test_buffers_are_validated_and_dropped(official):
    state = official_swin_checkpoint(official)
    converted, arch = convert_official_swin(state)
    assert not [
        k for k in converted
        if k.endswith(('relative_position_index', 'attn_mask'))
    ]
    assert (arch['arch'], arch['window_size'], arch['num_classes']) == \
        ('tiny', 7, 1000)

    # A column-major index (another layout of the same table) is refused.
    bad = official_swin_checkpoint(official)
    key = 'layers.2.blocks.3.attn.relative_position_index'
    index = bad['model'][key]
    bad['model'][key] = index.view(7, 7, 7,
                                   7).transpose(0, 1).transpose(2, 3).reshape(
                                       49, 49)
    with pytest.raises(ValueError, match=re.escape(key)):
        convert_official_swin(bad)

    # So is a mask whose windows come in another order.
    bad = official_swin_checkpoint(official)
    key = 'layers.1.blocks.1.attn_mask'
    bad['model'][key] = torch.roll(bad['model'][key], 1, dims=0)
    with pytest.raises(ValueError, match=re.escape(key)):
        convert_official_swin(bad)


def test_mis_shaped_key_is_named(official):
    state = official_swin_checkpoint(official)
    state['model']['layers.1.blocks.0.attn.proj.weight'] = torch.zeros(
        192, 100)
    with pytest.raises(
            ValueError,
            match=re.escape(
                'backbone.stages.1.blocks.0.attn.proj.weight: (192, 100) vs '
                '(192, 192)')):
        convert_official_swin(state)
