"""What ResNetBase gives every ResNet-family backbone."""
import pytest
import torch

from mmzoo.models.backbones import Res2Net, ResNeSt, ResNet, ResNeXt

BACKBONES = {
    'res2net': lambda **kw: Res2Net(depth=50, **kw),
    'resnest': lambda **kw: ResNeSt(depth=50, **kw),
    'resnext': lambda **kw: ResNeXt(depth=50, groups=32, base_width=4, **kw),
    'resnet': lambda **kw: ResNet(depth=18, **kw),
}


def blocks(backbone):
    for name in backbone.res_layers:
        yield from getattr(backbone, name)


@pytest.mark.parametrize('name', sorted(BACKBONES))
def test_zero_init_residual_starts_each_block_as_identity(name):
    backbone = BACKBONES[name](zero_init_residual=True)
    backbone.init_weights()
    backbone.eval()
    torch.manual_seed(0)
    for block in blocks(backbone):
        if block.shortcut is not None:
            continue
        # Block inputs follow a ReLU, so they are non-negative, and a block
        # whose residual branch gives zero returns relu(x) = x.
        x = torch.rand(2, block.last_norm.num_features, 8, 8)
        torch.testing.assert_close(block(x), x, rtol=0, atol=0)


@pytest.mark.parametrize('name', sorted(BACKBONES))
def test_residual_norms_start_at_one_by_default(name):
    """The official implementations start every norm at one."""
    backbone = BACKBONES[name]()
    backbone.init_weights()
    for block in blocks(backbone):
        assert torch.all(block.last_norm.weight == 1)


def test_zero_init_residual_leaves_a_checkpoint_alone(tmp_path):
    source = ResNet(depth=18)
    source.init_weights()
    path = tmp_path / 'resnet18.pth'
    torch.save({'state_dict': source.state_dict()}, path)
    backbone = ResNet(depth=18, zero_init_residual=True,
                      init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    backbone.init_weights()
    for block, expected in zip(blocks(backbone), blocks(source)):
        torch.testing.assert_close(block.last_norm.weight,
                                   expected.last_norm.weight)
