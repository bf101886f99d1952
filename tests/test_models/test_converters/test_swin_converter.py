"""The converter as a user runs it: an official Swin checkpoint in, a
checkpoint that mmengine loads strictly into the config's classifier out,
giving the official logits."""
import os.path as osp
import pickle
import re
from collections import OrderedDict

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import load_checkpoint
from mmzoo_testing import REPO, run_tool

from mmzoo.models.converters import convert_official_swin
from mmzoo.registry import MODELS
from mmzoo.utils.converter import ConversionError, read_state_dict

CONVERTER = 'tools/model_converters/swin2mmzoo.py'


@pytest.fixture(scope='module')
def official():
    """timm's port of the official Swin-T, random weights."""
    timm = pytest.importorskip('timm')
    torch.manual_seed(0)
    model = timm.create_model('swin_tiny_patch4_window7_224',
                              pretrained=False).eval()
    for m in model.modules():  # non-trivial norms, so a swapped one shows
        if isinstance(m, torch.nn.LayerNorm):
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)
    return model


def official_checkpoint(model):
    """The official release's layout, by inverting timm's
    checkpoint_filter_fn: patch merging closes stage i (timm opens stage
    i + 1 with it), the head is a plain Linear, the checkpoint is
    ``{'model': ...}``, and it carries the relative position indices and
    shift masks as persistent buffers."""
    state = OrderedDict()
    for key, value in model.state_dict().items():
        key = re.sub(r'^layers\.(\d+)\.downsample',
                     lambda m: f'layers.{int(m.group(1)) - 1}.downsample',
                     key)
        state[key.replace('head.fc.', 'head.')] = value
    for name, module in model.named_modules():
        if isinstance(getattr(module, 'relative_position_index', None),
                      torch.Tensor):
            state[f'{name}.relative_position_index'] = \
                module.relative_position_index.clone()
        if isinstance(getattr(module, 'attn_mask', None), torch.Tensor):
            state[f'{name}.attn_mask'] = module.attn_mask.clone()
    return dict(model=state)


def test_official_layout_has_the_buffers(official):
    state = official_checkpoint(official)['model']
    assert 'layers.0.downsample.reduction.weight' in state
    assert 'layers.3.downsample.reduction.weight' not in state
    assert state['layers.0.blocks.1.attn_mask'].shape == (64, 49, 49)
    # The last stage is one 7×7 window at 224²: the official model does not
    # shift it, so it has no mask.
    assert 'layers.3.blocks.1.attn_mask' not in state
    assert 'layers.3.blocks.1.attn.relative_position_index' in state


def test_cli_converts_to_strictly_loadable_checkpoint(official, tmp_path):
    src, dst = tmp_path / 'swin_tiny_patch4_window7_224.pth', \
        tmp_path / 'ours.pth'
    torch.save(official_checkpoint(official), src)
    result = run_tool(CONVERTER, src, dst)
    assert "'arch': 'tiny'" in result.stdout and dst.is_file()

    cfg = Config.fromfile(
        osp.join(REPO, 'configs/swin/swin-tiny_16xb64_in1k.py'))
    ours = MODELS.build(cfg.model).eval()
    load_checkpoint(ours, str(dst), strict=True)
    x = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        torch.testing.assert_close(ours(x, mode='tensor'), official(x),
                                   atol=1e-5, rtol=1e-5)


# What the foreign objects below ran while being unpickled, if anything.
RAN = []


def record(*args):
    RAN.append(args)


class TrainingConfig(dict):
    """Stands in for the yacs CfgNode that the official training
    checkpoints store beside the weights: a dict subclass with attributes,
    from a module outside torch's weights-only allow-list. Unpickling it in
    full would run this module's code, twice."""

    def __init__(self, **entries):
        super().__init__(**entries)
        self.frozen = True
        self.callback = Callback()

    def __setstate__(self, state):
        RAN.append(('TrainingConfig.__setstate__', state))


class Callback:
    """An object whose pickle calls a function of this module."""

    def __reduce__(self):
        return record, ('Callback.__reduce__', )


def training_checkpoint(official):
    """The layout of the official repository's training checkpoints."""
    return dict(
        official_checkpoint(official),
        optimizer=dict(state={}, param_groups=[dict(lr=1e-3, params=[0])]),
        lr_scheduler=dict(t_initial=300),
        max_accuracy=81.2,
        epoch=299,
        config=TrainingConfig(MODEL=TrainingConfig(TYPE='swin')))


def test_training_checkpoint_gives_the_weights_without_running_code(
        official, tmp_path):
    src = tmp_path / 'swin_tiny_training.pth'
    torch.save(training_checkpoint(official), src)
    with pytest.raises(pickle.UnpicklingError):
        torch.load(src, weights_only=True)
    # The probe works: unpickling our own file in full runs both.
    torch.load(src, weights_only=False)
    assert {ran[0] for ran in RAN} == {'TrainingConfig.__setstate__',
                                       'Callback.__reduce__'}
    RAN.clear()

    state_dict = read_state_dict(str(src))
    assert not RAN
    expected = official_checkpoint(official)['model']
    assert list(state_dict) == list(expected)
    for key, value in expected.items():
        assert torch.equal(state_dict[key], value), key

    # Foreign objects in place of the weights are named, not used.
    torch.save(dict(model=TrainingConfig(), epoch=1), src)
    with pytest.raises(ConversionError,
                       match=r"'model' is a .*TrainingConfig, not a tensor"):
        read_state_dict(str(src))
    assert not RAN


def test_cli_converts_training_checkpoint(official, tmp_path):
    src, dst = tmp_path / 'swin_tiny_training.pth', tmp_path / 'ours.pth'
    torch.save(training_checkpoint(official), src)
    run_tool(CONVERTER, src, dst)
    ours = torch.load(dst, weights_only=True)['state_dict']
    expected, _ = convert_official_swin(official_checkpoint(official))
    assert list(ours) == list(expected)
    for key, value in expected.items():
        assert torch.equal(ours[key], value), key


def test_buffers_are_validated_and_dropped(official):
    state = official_checkpoint(official)
    converted, arch = convert_official_swin(state)
    assert not [k for k in converted
                if k.endswith(('relative_position_index', 'attn_mask'))]
    assert (arch['arch'], arch['window_size'], arch['num_classes']) == \
        ('tiny', 7, 1000)

    # A column-major index (another layout of the same table) is refused.
    bad = official_checkpoint(official)
    key = 'layers.2.blocks.3.attn.relative_position_index'
    index = bad['model'][key]
    bad['model'][key] = index.view(7, 7, 7, 7).transpose(0, 1).transpose(
        2, 3).reshape(49, 49)
    with pytest.raises(ValueError, match=re.escape(key)):
        convert_official_swin(bad)

    # So is a mask whose windows come in another order.
    bad = official_checkpoint(official)
    key = 'layers.1.blocks.1.attn_mask'
    bad['model'][key] = torch.roll(bad['model'][key], 1, dims=0)
    with pytest.raises(ValueError, match=re.escape(key)):
        convert_official_swin(bad)


def test_mis_shaped_key_is_named(official):
    state = official_checkpoint(official)
    state['model']['layers.1.blocks.0.attn.proj.weight'] = torch.zeros(
        192, 100)
    with pytest.raises(ValueError, match=re.escape(
            'backbone.stages.1.blocks.0.attn.proj.weight: (192, 100) vs '
            '(192, 192)')):
        convert_official_swin(state)


def test_incomplete_checkpoint_names_keys_and_writes_nothing(
        official, tmp_path):
    state = official_checkpoint(official)
    del state['model']['layers.2.blocks.4.mlp.fc1.weight']
    state['model']['layers.2.blocks.4.layer_scale'] = torch.zeros(1)
    src, dst = tmp_path / 'broken.pth', tmp_path / 'out.pth'
    torch.save(state, src)
    result = run_tool(CONVERTER, src, dst, check=False)
    assert result.returncode == 1
    assert 'backbone.stages.2.blocks.4.ffn.layers.0.0.weight' in result.stderr
    assert 'layers.2.blocks.4.layer_scale' in result.stderr
    assert str(src) in result.stderr
    assert not dst.exists()
    assert list(tmp_path.iterdir()) == [src]


def test_other_architecture_is_refused(tmp_path):
    torchvision = pytest.importorskip('torchvision')
    src, dst = tmp_path / 'resnet50.pth', tmp_path / 'out.pth'
    torch.save(torchvision.models.resnet50().state_dict(), src)
    result = run_tool(CONVERTER, src, dst, check=False)
    assert result.returncode == 1
    assert 'patch_embed.proj.weight' in result.stderr
    assert not dst.exists()
