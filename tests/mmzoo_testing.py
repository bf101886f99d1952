"""Helpers shared by the tests."""
import glob
import os
import os.path as osp
import re
import subprocess
import sys
from collections import OrderedDict

import pytest
import torch
import yaml
from mmengine.config import Config
from torch.nn.modules.batchnorm import _BatchNorm

from mmzoo.registry import MODELS

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
# The seed of every training test. A recipe that learns only for a lucky seed
# is a broken test, so their robustness is checked over several:
# `MMZOO_TEST_SEED=1 pytest tests/test_tools/test_train_test.py`.
TRAIN_SEED = int(os.environ.get('MMZOO_TEST_SEED', '0'))


def run_tool(*args, timeout=900, check=True):
    """Run a repository script in a fresh interpreter, as a user would."""
    result = subprocess.run([sys.executable, *map(str, args)],
                            cwd=REPO,
                            capture_output=True,
                            text=True,
                            timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(
            f'{args} exited {result.returncode}:\n{result.stdout[-4000:]}\n'
            f'{result.stderr[-6000:]}')
    return result


def build_model(config):
    """The model of a config, the path relative to the repository."""
    return MODELS.build(Config.fromfile(osp.join(REPO, config)).model)


def classifier_configs(folder):
    """The ImageNet classifiers' configs in ``configs/<folder>``, relative to
    the repository."""
    return sorted(
        osp.relpath(path, REPO)
        for path in glob.glob(osp.join(REPO, 'configs', folder, '*_in1k.py')))


def variant(config):
    """The model variant a config is named for: ``res2net50-26w4s``."""
    return osp.basename(config).split('_')[0]


def num_params(model):
    return sum(p.numel() for p in model.parameters())


def metafile_entry(config):
    """The entry of a config's model in its folder's metafile.yml."""
    metafile = osp.join(REPO, osp.dirname(config), 'metafile.yml')
    with open(metafile) as f:
        entries = [
            model for model in yaml.safe_load(f)['Models']
            if model['Config'] == config
        ]
    assert len(entries) == 1, f'{metafile}: {len(entries)} for {config}'
    return entries[0]


def published_params(config):
    """The published parameter count of a config's model, as its metafile
    states it (with the precision of the source it cites)."""
    return metafile_entry(config)['Metadata']['Parameters']


def randomize_norms(model):
    """Non-trivial BN statistics and norm weights, so that a swapped or skipped
    norm shows in the outputs."""
    for m in model.modules():
        if isinstance(m, _BatchNorm):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 1.5)
        if isinstance(m, (_BatchNorm, torch.nn.LayerNorm)):
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)
    return model


def timm_reference(name, **kwargs):
    """timm's port of an official model, seeded random weights and norms, in
    eval mode; the test is skipped where timm is missing."""
    timm = pytest.importorskip('timm')
    torch.manual_seed(0)
    model = timm.create_model(name, pretrained=False, **kwargs)
    return randomize_norms(model).eval()


def torchvision_reference(name):
    """A torchvision model with seeded random weights and norms, in eval
    mode."""
    torchvision = pytest.importorskip('torchvision')
    torch.manual_seed(0)
    return randomize_norms(getattr(torchvision.models, name)()).eval()


def assert_checkpointing_changes_nothing(plain, checkpointed, x):
    """A backbone built with ``with_cp=True`` gives the outputs and gradients
    of the same backbone without it (same weights, eval-mode norms, whose
    statistics would otherwise update twice under cp)."""
    checkpointed.load_state_dict(plain.state_dict())
    plain.eval(), checkpointed.eval()
    x.requires_grad_(True)
    outs = [m(x)[0] for m in (plain, checkpointed)]
    torch.testing.assert_close(outs[0], outs[1])
    grads = [
        torch.autograd.grad(o.square().sum(), [x, *m.parameters()])
        for o, m in zip(outs, (plain, checkpointed))
    ]
    for g_plain, g_cp in zip(*grads):
        torch.testing.assert_close(g_plain, g_cp)


def official_swin_checkpoint(model):
    """A timm Swin in the official release's layout, by inverting timm's
    checkpoint_filter_fn: patch merging closes stage i (timm opens stage
    i + 1 with it), the head is a plain Linear, the checkpoint is
    ``{'model': ...}``, and it carries the relative position indices and
    shift masks as persistent buffers."""
    state = OrderedDict()
    for key, value in model.state_dict().items():
        key = re.sub(r'^layers\.(\d+)\.downsample',
                     lambda m: f'layers.{int(m.group(1)) - 1}.downsample', key)
        state[key.replace('head.fc.', 'head.')] = value
    for name, module in model.named_modules():
        if isinstance(
                getattr(module, 'relative_position_index', None),
                torch.Tensor):
            state[f'{name}.relative_position_index'] = \
                module.relative_position_index.clone()
        if isinstance(getattr(module, 'attn_mask', None), torch.Tensor):
            state[f'{name}.attn_mask'] = module.attn_mask.clone()
    return dict(model=state)


# What the foreign objects below ran while being unpickled, if anything.
RAN = []


def record(*args):
    RAN.append(args)


class TrainingConfig(dict):
    """Stands in for the yacs CfgNode that the official Swin training
    checkpoints store beside the weights: a dict subclass with attributes, from
    a module outside torch's weights-only allow-list.

    Unpickling it in full would run this module's code, twice.
    """

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


def swin_training_checkpoint(model):
    """The layout of the official Swin repository's training checkpoints."""
    return dict(
        official_swin_checkpoint(model),
        optimizer=dict(state={}, param_groups=[dict(lr=1e-3, params=[0])]),
        lr_scheduler=dict(t_initial=300),
        max_accuracy=81.2,
        epoch=299,
        config=TrainingConfig(MODEL=TrainingConfig(TYPE='swin')))
