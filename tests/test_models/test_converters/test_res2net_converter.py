"""convert_official_res2net: the weights of the official models (timm's
ports of them: the official code's layout) give the official logits in our
configs' classifiers."""
import pytest
import torch
from mmzoo_testing import build_model, num_params, timm_reference

from mmzoo.models.converters import convert_official_res2net

# mmzoo variant -> timm model built from the official code's layout
TIMM_EQUIVALENT = {
    'res2net50-26w4s': 'res2net50_26w_4s',
    'res2net50-48w2s': 'res2net50_48w_2s',
    'res2next50-4w8g4s': 'res2next50',
    'res2net50-v1b-26w4s': 'res2net50d',
}


@pytest.mark.parametrize('name', sorted(TIMM_EQUIVALENT))
def test_converted_official_weights_give_official_logits(name):
    official = timm_reference(TIMM_EQUIVALENT[name])
    converted, _ = convert_official_res2net(official.state_dict())
    ours = build_model(f'configs/res2net/{name}_8xb32_in1k.py').eval()
    ours.load_state_dict(converted, strict=True)
    assert num_params(ours) == num_params(official)
    x = torch.randn(2, 3, 96, 96)
    with torch.no_grad():
        expected = official(x)
        got = ours(x, mode='tensor')
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)
