"""STANetFPN against the official Decoder (github justchenhao/STANet,
models/mynet3.py) written plainly here, with our weights."""
import torch
import torch.nn.functional as F

from mmzoo.models.necks import STANetFPN


def conv_bn_relu(x, module, padding=0):
    x = F.conv2d(x, module.conv.weight, None, padding=padding)
    bn = module.bn
    x = F.batch_norm(x, bn.running_mean, bn.running_var, bn.weight, bn.bias)
    return F.relu(x)


def official_decoder(neck, x5, x2, x3, x4):
    """Decoder.forward: reduce, upsample to x2's size (align_corners),
    concatenate (x, x2, x3, x4), 3×3 conv-BN-ReLU, dropout, 1×1 conv-BN-
    ReLU. Eval mode: dropout is the identity."""
    x2, x3, x4, x = (conv_bn_relu(t, m)
                     for t, m in zip((x2, x3, x4, x5), neck.reduce))
    size = x2.shape[2:]
    x, x3, x4 = (
        F.interpolate(t, size=size, mode='bilinear', align_corners=True)
        for t in (x, x3, x4))
    x = torch.cat((x, x2, x3, x4), dim=1)
    x = conv_bn_relu(x, neck.fuse, padding=1)
    return conv_bn_relu(x, neck.project)


def test_equals_official_decoder():
    torch.manual_seed(0)
    neck = STANetFPN()
    for m in neck.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.5, 0.5)
    neck.eval()
    # ResNet-18 stages of a 64×64 image at output stride 32.
    feats = [
        torch.randn(2, c, 16 // 2**i, 16 // 2**i)
        for i, c in enumerate((64, 128, 256, 512))
    ]
    with torch.no_grad():
        out = neck(feats)
        expected = official_decoder(neck, feats[3], *feats[:3])
    assert out.shape == (2, 64, 16, 16)
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-5)


def test_layer_sizes_follow_the_paper():
    neck = STANetFPN()
    assert [m.conv.out_channels for m in neck.reduce] == [96] * 4
    assert neck.fuse.conv.kernel_size == (3, 3)
    assert (neck.fuse.conv.in_channels, neck.fuse.conv.out_channels) == \
        (384, 256)
    assert neck.project.conv.out_channels == 64
    assert neck.dropout.p == 0.5
    assert all(m.bias is None for m in neck.modules()
               if isinstance(m, torch.nn.Conv2d))


def test_wrong_number_of_inputs_is_named():
    import pytest
    with pytest.raises(ValueError, match='4 inputs'):
        STANetFPN()([torch.randn(1, 64, 8, 8)])
