"""resnext2mmzoo as a user runs it."""
import torch
import torchvision
from mmzoo_testing import run_tool

CONVERTER = 'tools/model_converters/resnext2mmzoo.py'


def test_cli_writes_checkpoint(tmp_path):
    src, dst = tmp_path / 'resnext.pth', tmp_path / 'ours.pth'
    torch.save(torchvision.models.resnext50_32x4d().state_dict(), src)
    result = run_tool(CONVERTER, src, dst)
    assert "'groups': 32" in result.stdout and dst.is_file()
    ckpt = torch.load(dst, weights_only=True)
    assert 'backbone.layer4.2.conv2.conv.weight' in ckpt['state_dict']


def test_plain_resnet_is_refused_and_nothing_written(tmp_path):
    src, dst = tmp_path / 'resnet50.pth', tmp_path / 'out.pth'
    torch.save(torchvision.models.resnet50().state_dict(), src)
    result = run_tool(CONVERTER, src, dst, check=False)
    assert result.returncode != 0
    assert str(src) in result.stderr and 'not grouped' in result.stderr
    assert not dst.exists()


def test_unexpected_keys_are_named(tmp_path):
    state = torchvision.models.resnext50_32x4d().state_dict()
    state['layer3.0.se.fc1.weight'] = torch.zeros(1)
    del state['layer4.2.bn3.weight']
    src, dst = tmp_path / 'odd.pth', tmp_path / 'out.pth'
    torch.save(state, src)
    result = run_tool(CONVERTER, src, dst, check=False)
    assert result.returncode != 0
    assert 'layer3.0.se.fc1.weight' in result.stderr
    assert 'backbone.layer4.2.conv3.bn.weight' in result.stderr
    assert not dst.exists()
