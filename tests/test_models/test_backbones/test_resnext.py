"""ResNeXt: exact parameter counts of torchvision's models and the layout of
its grouped stages."""
import pytest
import torch
from mmzoo_testing import (build_model, classifier_configs, num_params,
                           published_params, variant)

from mmzoo.models import ResNeXt


@pytest.mark.parametrize('config', classifier_configs('resnext'), ids=variant)
def test_parameter_count_equals_torchvision(config):
    """The metafile's counts are torchvision's, exact (its model docs)."""
    assert num_params(build_model(config)) == published_params(config)


def test_grouped_width_and_output_stride_8():
    model = ResNeXt(
        depth=50,
        groups=32,
        base_width=4,
        strides=(1, 2, 1, 1),
        dilations=(1, 1, 2, 4))
    conv2 = model.layer1[0].conv2.conv
    assert (conv2.in_channels, conv2.groups, conv2.stride) == (128, 32, (1, 1))
    assert model.layer2[0].conv2.conv.stride == (2, 2)  # torchvision-style
    outs = model(torch.rand(1, 3, 64, 64))
    assert [tuple(o.shape[1:]) for o in outs] == [(256, 16, 16), (512, 8, 8),
                                                  (1024, 8, 8), (2048, 8, 8)]
    assert model.layer4[0].conv2.conv.dilation == (4, 4)
