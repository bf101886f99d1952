"""ResNeXt against torchvision: exact parameter counts and, with converted
weights, the same logits."""
import os.path as osp

import pytest
import torch
import torchvision
from mmengine.config import Config
from mmengine.registry import DefaultScope, init_default_scope
from torch.nn.modules.batchnorm import _BatchNorm

from mmzoo.models import ResNeXt
from mmzoo.registry import MODELS
from mmzoo.models.converters import convert_torchvision_resnext

CONFIGS = osp.join(osp.dirname(__file__), '../../../configs/resnext')

# config -> (torchvision builder, its published parameter count)
TORCHVISION = {
    'resnext50-32x4d': ('resnext50_32x4d', 25_028_904),
    'resnext101-32x8d': ('resnext101_32x8d', 88_791_336),
    'resnext101-64x4d': ('resnext101_64x4d', 83_455_272),
}


def build_classifier(name):
    cfg = Config.fromfile(osp.join(CONFIGS, f'{name}_8xb32_in1k.py'))
    return MODELS.build(cfg.model)


@pytest.mark.parametrize('name', sorted(TORCHVISION))
def test_parameter_count_equals_torchvision(name):
    model = build_classifier(name)
    assert sum(p.numel() for p in model.parameters()) == TORCHVISION[name][1]


def test_converted_torchvision_weights_give_torchvision_logits():
    torch.manual_seed(0)
    reference = torchvision.models.resnext50_32x4d().eval()
    for m in reference.modules():
        if isinstance(m, _BatchNorm):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 1.5)
            m.weight.data.uniform_(0.5, 1.5)
    converted, arch = convert_torchvision_resnext(reference.state_dict())
    assert arch == dict(depth=50, groups=32, base_width=4, num_classes=1000)
    ours = build_classifier('resnext50-32x4d').eval()
    ours.load_state_dict(converted, strict=True)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(ours(x, mode='tensor'), reference(x),
                                   atol=1e-5, rtol=1e-5)


def test_grouped_width_and_output_stride_8():
    model = ResNeXt(depth=50, groups=32, base_width=4,
                    strides=(1, 2, 1, 1), dilations=(1, 1, 2, 4))
    conv2 = model.layer1[0].conv2.conv
    assert (conv2.in_channels, conv2.groups, conv2.stride) == (128, 32,
                                                                (1, 1))
    assert model.layer2[0].conv2.conv.stride == (2, 2)  # torchvision-style
    outs = model(torch.rand(1, 3, 64, 64))
    assert [tuple(o.shape[1:]) for o in outs] == [
        (256, 16, 16), (512, 8, 8), (1024, 8, 8), (2048, 8, 8)]
    assert model.layer4[0].conv2.conv.dilation == (4, 4)


@pytest.mark.parametrize('toolbox', ['mmseg', 'mmdet', 'mmpretrain'])
def test_builds_through_each_toolbox_registry(toolbox):
    registry = __import__(f'{toolbox}.registry', fromlist=['MODELS']).MODELS
    previous = DefaultScope.get_current_instance()
    init_default_scope(toolbox)
    try:
        model = registry.build(dict(type='mmzoo.ResNeXt', depth=50))
    finally:
        if previous is not None:
            init_default_scope(previous.scope_name)
    assert isinstance(model, ResNeXt)
