"""convert_official_resnest: the official resnest50's weights (timm's
resnest50d: the same keys and shapes) give its logits in our config's
classifier."""
import torch
from mmzoo_testing import build_model, num_params, timm_reference

from mmzoo.models.converters import convert_official_resnest


def test_converted_official_weights_give_official_logits():
    official = timm_reference('resnest50d')
    converted, arch = convert_official_resnest(official.state_dict())
    assert arch == dict(depth=50, stem_channels=64, num_classes=1000)
    ours = build_model('configs/resnest/resnest50_32xb64_in1k.py').eval()
    ours.load_state_dict(converted, strict=True)
    assert num_params(ours) == num_params(official)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(
            ours(x, mode='tensor'), official(x), atol=1e-5, rtol=1e-5)
