"""resnet_stages: the five stages of mmzoo's ResNet family run one after the
other give exactly the backbone's own outputs, so BSDA-Net (and any UNet on
these stages) can take Res2Net or ResNeSt encoders by config."""
import pytest
import torch

from mmzoo.models.utils import resnet_stages
from mmzoo.registry import MODELS


@pytest.mark.parametrize(
    'cfg', [
        dict(type='mmzoo.ResNet', depth=18, in_channels=1),
        dict(type='mmzoo.Res2Net', depth=50, scales=4, base_width=26),
        dict(type='mmzoo.ResNeSt', depth=50),
    ],
    ids=lambda c: c['type'])
def test_stages_compose_to_the_backbone(cfg):
    torch.manual_seed(0)
    backbone = MODELS.build(dict(cfg, out_indices=(0, 1, 2, 3))).eval()
    x = torch.randn(1, cfg.get('in_channels', 3), 40, 56)
    with torch.no_grad():
        expected = backbone(x)
        outs = []
        for stage in resnet_stages(backbone):
            x = stage(x)
            outs.append(x)
    # The stem's convolutions halve the input; the rest are the stages.
    assert outs[0].shape[2:] == (20, 28)
    assert len(outs) == 5
    for got, want in zip(outs[1:], expected):
        torch.testing.assert_close(got, want)


def test_other_backbones_are_refused():
    swin = MODELS.build(dict(type='mmzoo.SwinTransformer', arch='tiny'))
    with pytest.raises(TypeError, match='SwinTransformer is not a ResNet'):
        resnet_stages(swin)
