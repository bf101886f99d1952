"""convert_torchvision_resnext: torchvision's weights give torchvision's
logits in our config's classifier."""
import torch
from mmzoo_testing import build_model, torchvision_reference

from mmzoo.models.converters import convert_torchvision_resnext


def test_converted_torchvision_weights_give_torchvision_logits():
    reference = torchvision_reference('resnext50_32x4d')
    converted, arch = convert_torchvision_resnext(reference.state_dict())
    assert arch == dict(depth=50, groups=32, base_width=4, num_classes=1000)
    ours = build_model('configs/resnext/resnext50-32x4d_8xb32_in1k.py').eval()
    ours.load_state_dict(converted, strict=True)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(
            ours(x, mode='tensor'), reference(x), atol=1e-5, rtol=1e-5)
