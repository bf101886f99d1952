"""The converter as a user runs it: official checkpoint in, a checkpoint
that mmengine loads strictly into the config's classifier out."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import load_checkpoint
from mmzoo_testing import REPO, run_tool

import mmzoo.models  # noqa: F401  (registers ResNeSt)
from mmzoo.registry import MODELS

CONVERTER = 'tools/model_converters/resnest2mmzoo.py'


@pytest.fixture(scope='module')
def official():
    """timm's port of the official resnest50 (same keys and shapes), random
    weights, saved as the official release ships it: a plain state dict."""
    timm = pytest.importorskip('timm')
    torch.manual_seed(0)
    model = timm.create_model('resnest50d', pretrained=False).eval()
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    return model


def test_cli_converts_to_strictly_loadable_checkpoint(official, tmp_path):
    src, dst = tmp_path / 'resnest50-528c19ca.pth', tmp_path / 'ours.pth'
    # As saved from nn.DataParallel, under 'state_dict': both are accepted.
    torch.save(dict(state_dict={f'module.{k}': v for k, v in
                                official.state_dict().items()}), src)
    result = run_tool(CONVERTER, src, dst)
    assert "'depth': 50" in result.stdout and dst.is_file()

    cfg = Config.fromfile(osp.join(
        REPO, 'configs/resnest/resnest50_32xb64_in1k.py'))
    ours = MODELS.build(cfg.model).eval()
    load_checkpoint(ours, str(dst), strict=True)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(ours(x, mode='tensor'), official(x),
                                   atol=1e-5, rtol=1e-5)


def test_incomplete_checkpoint_names_keys_and_writes_nothing(
        official, tmp_path):
    state = dict(official.state_dict())
    del state['layer2.1.conv2.fc1.weight']
    state['layer2.1.se.fc.weight'] = torch.zeros(1)
    src, dst = tmp_path / 'broken.pth', tmp_path / 'out.pth'
    torch.save(state, src)
    result = run_tool(CONVERTER, src, dst, check=False)
    assert result.returncode != 0
    assert 'backbone.layer2.1.conv2.fc1.weight' in result.stderr
    assert 'layer2.1.se.fc.weight' in result.stderr
    assert str(src) in result.stderr
    assert not dst.exists()
    assert list(tmp_path.iterdir()) == [src]


def test_other_architecture_is_refused(tmp_path):
    torchvision = pytest.importorskip('torchvision')
    src, dst = tmp_path / 'resnet50.pth', tmp_path / 'out.pth'
    torch.save(torchvision.models.resnet50().state_dict(), src)
    result = run_tool(CONVERTER, src, dst, check=False)
    assert result.returncode != 0
    assert 'conv1.6.weight' in result.stderr
    assert not dst.exists()
