"""Res2STANetFPN keeps STANet's reduction and projection and swaps its 3×3
fusion for Res2Net blocks."""
import torch

from mmzoo.models.necks import STANetFPN
from mmzoo.models.utils import Bottle2neck
from projects.res2decoder.res2decoder import Res2STANetFPN


def test_same_interface_and_layers_as_stanet_fpn():
    torch.manual_seed(0)
    neck = Res2STANetFPN(num_blocks=2, scales=4, base_width=26)
    stanet = STANetFPN()
    ours = {
        k: v.shape
        for k, v in neck.state_dict().items() if not k.startswith('fuse.')
    }
    theirs = {
        k: v.shape
        for k, v in stanet.state_dict().items() if not k.startswith('fuse.')
    }
    assert ours == theirs
    fuse = neck.fuse
    assert fuse[0].conv.kernel_size == (1, 1)
    assert (fuse[0].conv.in_channels, fuse[0].conv.out_channels) == (384, 256)
    assert [type(b) for b in fuse[1]] == [Bottle2neck, Bottle2neck]
    # hidden 256: planes 64, so the split width is base_width itself.
    assert fuse[1][0].width == 26
    feats = [
        torch.randn(2, c, 16 // 2**i, 16 // 2**i)
        for i, c in enumerate((64, 128, 256, 512))
    ]
    neck.eval()
    stanet.eval()
    assert neck(feats).shape == stanet(feats).shape == (2, 64, 16, 16)
