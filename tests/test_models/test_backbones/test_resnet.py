"""The basic-block ResNet against torchvision, and STANet's multi-grid
ResNet-18 against the structure of the official code (github
justchenhao/STANet, models/mynet3.py: ResNet18 with output_stride=32)."""
import pytest
import torch
from mmzoo_testing import torchvision_reference

from mmzoo.models import ResNet

# torchvision's published ResNet-18 count, 11,689,512, less its classifier
# (512·1000 weights + 1000 biases).
RESNET18_BACKBONE_PARAMS = 11_689_512 - 513_000


def torchvision_features(model, x):
    x = model.maxpool(model.relu(model.bn1(model.conv1(x))))
    outs = []
    for layer in (model.layer1, model.layer2, model.layer3, model.layer4):
        x = layer(x)
        outs.append(x)
    return outs


@pytest.mark.parametrize('depth', [18, 34])
def test_same_features_as_torchvision(depth):
    reference = torchvision_reference(f'resnet{depth}')
    ours = ResNet(depth=depth).eval()
    ref_state = [
        v for k, v in reference.state_dict().items() if not k.startswith('fc.')
    ]
    our_keys = list(ours.state_dict())
    assert len(our_keys) == len(ref_state)
    ours.load_state_dict(dict(zip(our_keys, ref_state)))
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        for a, b in zip(ours(x), torchvision_features(reference, x)):
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)
    if depth == 18:
        assert sum(p.numel() for p in ours.parameters()) == \
            RESNET18_BACKBONE_PARAMS


def test_stanet_multi_grid_last_stage():
    model = ResNet(depth=18, multi_grid=(1, 2, 4))
    layer4 = model.layer4
    assert len(layer4) == 3
    assert [b.conv1.conv.dilation for b in layer4] == [(1, 1), (2, 2), (4, 4)]
    # The second convolution of each block stays undilated (conv3x3).
    assert all(b.conv2.conv.dilation == (1, 1) for b in layer4)
    assert layer4[0].conv1.conv.stride == (2, 2)
    # One more 512-channel basic block than ResNet-18: two 3×3 convs and
    # two BNs.
    extra = 2 * 512 * 512 * 9 + 2 * 2 * 512
    assert sum(p.numel() for p in model.parameters()) == \
        RESNET18_BACKBONE_PARAMS + extra
    shapes = [o.shape[1:] for o in model(torch.randn(1, 3, 64, 64))]
    assert shapes == [(64, 16, 16), (128, 8, 8), (256, 4, 4), (512, 2, 2)]


def test_bad_depth_and_multi_grid():
    with pytest.raises(KeyError, match='depth 50'):
        ResNet(depth=50)
    with pytest.raises(ValueError, match='multi_grid'):
        ResNet(depth=18, multi_grid=())
