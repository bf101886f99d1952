"""convert_torchvision_resnet: torchvision's ResNet-18/34 weights give
torchvision's logits in mmzoo's layout."""
import pytest
import torch
from mmzoo_testing import torchvision_reference

from mmzoo.models.converters import convert_torchvision_resnet
from mmzoo.utils.converter import build_classifier


@pytest.mark.parametrize('depth', [18, 34])
def test_converted_weights_give_torchvision_logits(depth):
    reference = torchvision_reference(f'resnet{depth}')
    converted, arch = convert_torchvision_resnet(reference.state_dict())
    assert arch == dict(depth=depth, num_classes=1000)
    ours = build_classifier(
        dict(type='mmzoo.ResNet', depth=depth), 1000, in_channels=512).eval()
    ours.load_state_dict(converted, strict=True)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(
            ours(x, mode='tensor'), reference(x), atol=1e-5, rtol=1e-5)
