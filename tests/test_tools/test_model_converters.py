"""The converters in tools/model_converters as a user runs them: an official
checkpoint in, a checkpoint that mmengine loads strictly into our model out,
giving the official outputs; a broken or foreign checkpoint is refused, named,
and nothing is written.

The conversions that must give the official outputs run each script in a fresh
interpreter, as a user does; the other cases run the same script in this
process (``run_in_process``), which spares an interpreter start-up of several
seconds per case.
"""
import contextlib
import io
import os.path as osp
import runpy
import sys
from types import SimpleNamespace
from typing import Callable, NamedTuple, Tuple
from unittest import mock

import pytest
import torch
import torchvision
from mmengine.config import Config
from mmengine.runner import load_checkpoint
from mmzoo_testing import (REPO, build_model, official_swin_checkpoint,
                           run_tool, swin_training_checkpoint, timm_reference,
                           torchvision_reference)

from mmzoo.models.converters import convert_official_swin
from mmzoo.registry import MODELS
from mmzoo.utils.converter import build_classifier


class Converter(NamedTuple):
    """What the checks below need to know of one converter script."""
    official: Callable  # () -> the reference model
    ours: Callable  # () -> our model that loads the converted checkpoint
    reports: str  # in the summary printed on success
    # (official key deleted, the converted key named as missing)
    missing: Tuple[str, str]
    unexpected: str  # a key added, named as unmatched
    refusal: str  # named when a torchvision ResNet-50 is given
    size: int = 64  # input size of the output check
    # official model -> its weights as the official release keys them
    state: Callable = lambda model: model.state_dict()
    # weights -> the object the official release saves
    release: Callable = lambda state: state


def data_parallel_release(state):
    """As saved from nn.DataParallel, under 'state_dict': both accepted."""
    return dict(state_dict={f'module.{k}': v for k, v in state.items()})


CONVERTERS = {
    'res2net2mmzoo':
    Converter(
        official=lambda: timm_reference('res2net50d'),
        ours=lambda: build_model(
            'configs/res2net/res2net50-v1b-26w4s_8xb32_in1k.py'),
        reports='deep_stem',
        missing=('layer2.1.convs.0.weight',
                 'backbone.layer2.1.convs.0.conv.weight'),
        unexpected='layer2.1.se.fc.weight',
        refusal='layer1.0.convs.0.weight'),
    'resnest2mmzoo':
    Converter(
        official=lambda: timm_reference('resnest50d'),
        ours=lambda: build_model('configs/resnest/resnest50_32xb64_in1k.py'),
        reports="'depth': 50",
        missing=('layer2.1.conv2.fc1.weight',
                 'backbone.layer2.1.conv2.fc1.weight'),
        unexpected='layer2.1.se.fc.weight',
        refusal='conv1.6.weight',
        release=data_parallel_release),
    'resnet2mmzoo':
    Converter(
        official=lambda: torchvision_reference('resnet18'),
        ours=lambda: build_classifier(
            dict(type='mmzoo.ResNet', depth=18), 1000, in_channels=512),
        reports="'depth': 18",
        missing=('layer3.1.bn2.weight', 'backbone.layer3.1.conv2.bn.weight'),
        unexpected='layer3.0.se.fc1.weight',
        refusal='bottleneck'),
    'resnext2mmzoo':
    Converter(
        official=lambda: torchvision_reference('resnext50_32x4d'),
        ours=lambda: build_model(
            'configs/resnext/resnext50-32x4d_8xb32_in1k.py'),
        reports="'groups': 32",
        missing=('layer4.2.bn3.weight', 'backbone.layer4.2.conv3.bn.weight'),
        unexpected='layer3.0.se.fc1.weight',
        refusal='not grouped'),
    'swin2mmzoo':
    Converter(
        official=lambda: timm_reference('swin_tiny_patch4_window7_224'),
        ours=lambda: build_model('configs/swin/swin-tiny_16xb64_in1k.py'),
        reports="'arch': 'tiny'",
        missing=('layers.2.blocks.4.mlp.fc1.weight',
                 'backbone.stages.2.blocks.4.ffn.layers.0.0.weight'),
        unexpected='layers.2.blocks.4.layer_scale',
        refusal='patch_embed.proj.weight',
        size=224,
        state=lambda model: official_swin_checkpoint(model)['model'],
        release=lambda state: dict(model=state)),
}


def script(name):
    return f'tools/model_converters/{name}.py'


def run_in_process(tool, *args):
    """``python TOOL ARGS`` run in this process: its exit status, stdout and
    stderr, as :func:`run_tool` reports them (``sys.exit(message)`` prints the
    message on stderr and exits 1, as the interpreter does)."""
    path = osp.join(REPO, tool)
    stdout, stderr = io.StringIO(), io.StringIO()
    returncode = 0
    # A script run as a file finds its sibling modules on sys.path[0].
    with mock.patch.object(sys, 'argv', [path, *map(str, args)]), \
            mock.patch.object(sys, 'path', [osp.dirname(path), *sys.path]), \
            contextlib.redirect_stdout(stdout), \
            contextlib.redirect_stderr(stderr):
        try:
            runpy.run_path(path, run_name='__main__')
        except SystemExit as exit:
            if isinstance(exit.code, str):
                print(exit.code, file=stderr)
                returncode = 1
            else:
                returncode = exit.code or 0
    return SimpleNamespace(
        returncode=returncode,
        stdout=stdout.getvalue(),
        stderr=stderr.getvalue())


@pytest.fixture(scope='module', params=sorted(CONVERTERS))
def converter(request):
    """A converter's script, its case, and its reference model (built once for
    all the tests of that converter)."""
    case = CONVERTERS[request.param]
    return script(request.param), case, case.official()


def test_converts_to_a_checkpoint_that_gives_the_official_outputs(
        converter, tmp_path):
    tool, case, official = converter
    src, dst = tmp_path / 'official.pth', tmp_path / 'ours.pth'
    torch.save(case.release(case.state(official)), src)
    result = run_tool(tool, src, dst)
    assert case.reports in result.stdout and dst.is_file()

    ours = case.ours().eval()
    load_checkpoint(ours, str(dst), strict=True)
    x = torch.randn(2, 3, case.size, case.size)
    with torch.no_grad():
        torch.testing.assert_close(
            ours(x, mode='tensor'), official(x), atol=1e-5, rtol=1e-5)


def test_incomplete_checkpoint_names_keys_and_writes_nothing(
        converter, tmp_path):
    tool, case, official = converter
    state = dict(case.state(official))
    missing, converted_name = case.missing
    del state[missing]
    state[case.unexpected] = torch.zeros(1)
    src, dst = tmp_path / 'broken.pth', tmp_path / 'out.pth'
    torch.save(case.release(state), src)
    result = run_in_process(tool, src, dst)
    assert result.returncode == 1
    assert converted_name in result.stderr
    assert case.unexpected in result.stderr
    assert str(src) in result.stderr
    assert not dst.exists()
    assert list(tmp_path.iterdir()) == [src]


def test_other_architecture_is_refused(converter, tmp_path):
    tool, case, _ = converter
    src, dst = tmp_path / 'resnet50.pth', tmp_path / 'out.pth'
    torch.save(torchvision.models.resnet50().state_dict(), src)
    result = run_in_process(tool, src, dst)
    assert result.returncode == 1
    assert str(src) in result.stderr and case.refusal in result.stderr
    assert not dst.exists()


def test_stanet_backbone_loads_resnet18_as_the_official_code(tmp_path):
    """Every ImageNet weight lands; only the multi-grid block that ResNet-18
    lacks (layer4.2) keeps its initialisation."""
    reference = torchvision_reference('resnet18')
    src, dst = tmp_path / 'resnet18.pth', tmp_path / 'resnet18_in1k.pth'
    torch.save(reference.state_dict(), src)
    assert run_in_process(script('resnet2mmzoo'), src, dst).returncode == 0

    cfg = Config.fromfile(
        f'{REPO}/configs/stanet/stanet-pam_r18_1xb8-200e_levircd-256x256.py')
    cfg.model.backbone.init_cfg.checkpoint = str(dst)
    backbone = MODELS.build(cfg.model).backbone
    before = {k: v.clone() for k, v in backbone.state_dict().items()}
    backbone.init_weights()
    after = backbone.state_dict()
    source = torch.load(dst, weights_only=True)['state_dict']
    for key, value in after.items():
        if key.startswith('layer4.2.'):
            torch.testing.assert_close(value, before[key])
        else:
            torch.testing.assert_close(value, source[f'backbone.{key}'])


def test_swin_training_checkpoint_converts_as_the_release(tmp_path):
    """The official training checkpoints hold a yacs config besides the
    weights: the script converts the weights as those of the release."""
    official = timm_reference('swin_tiny_patch4_window7_224')
    src, dst = tmp_path / 'swin_tiny_training.pth', tmp_path / 'ours.pth'
    torch.save(swin_training_checkpoint(official), src)
    assert run_in_process(script('swin2mmzoo'), src, dst).returncode == 0
    ours = torch.load(dst, weights_only=True)['state_dict']
    expected, _ = convert_official_swin(official_swin_checkpoint(official))
    assert list(ours) == list(expected)
    for key, value in expected.items():
        assert torch.equal(ours[key], value), key
