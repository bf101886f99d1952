"""resnet2mmzoo: torchvision ResNet-18/34 weights into mmzoo's layout, with
torchvision's logits, and into STANet's backbone as its configs load them."""
import os.path as osp

import pytest
import torch
import torchvision
from mmengine.config import Config
from torch.nn.modules.batchnorm import _BatchNorm

from mmzoo.models.converters import convert_torchvision_resnet
from mmzoo.registry import MODELS
from mmzoo.utils.converter import build_classifier
from mmzoo_testing import REPO, run_tool

CONVERTER = 'tools/model_converters/resnet2mmzoo.py'


def torchvision_resnet(depth):
    torch.manual_seed(0)
    model = getattr(torchvision.models, f'resnet{depth}')().eval()
    for m in model.modules():
        if isinstance(m, _BatchNorm):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 1.5)
            m.weight.data.uniform_(0.5, 1.5)
    return model


@pytest.mark.parametrize('depth', [18, 34])
def test_converted_weights_give_torchvision_logits(depth):
    reference = torchvision_resnet(depth)
    converted, arch = convert_torchvision_resnet(reference.state_dict())
    assert arch == dict(depth=depth, num_classes=1000)
    ours = build_classifier(dict(type='mmzoo.ResNet', depth=depth), 1000,
                            in_channels=512).eval()
    ours.load_state_dict(converted, strict=True)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(ours(x, mode='tensor'), reference(x),
                                   atol=1e-5, rtol=1e-5)


def test_stanet_backbone_loads_it_as_the_official_code(tmp_path):
    """Every ImageNet weight lands; only the multi-grid block that
    ResNet-18 lacks (layer4.2) keeps its initialisation."""
    reference = torchvision_resnet(18)
    src, dst = tmp_path / 'resnet18.pth', tmp_path / 'resnet18_in1k.pth'
    torch.save(reference.state_dict(), src)
    result = run_tool(CONVERTER, src, dst)
    assert "'depth': 18" in result.stdout

    cfg = Config.fromfile(osp.join(
        REPO, 'configs/stanet/stanet-pam_r18_1xb8-200e_levircd-256x256.py'))
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


def test_bottleneck_resnet_is_refused_and_nothing_written(tmp_path):
    src, dst = tmp_path / 'resnet50.pth', tmp_path / 'out.pth'
    torch.save(torchvision.models.resnet50().state_dict(), src)
    result = run_tool(CONVERTER, src, dst, check=False)
    assert result.returncode != 0
    assert str(src) in result.stderr and 'bottleneck' in result.stderr
    assert not dst.exists()
