"""What ResNetBase gives every ResNet-family backbone."""
import pytest
import torch
from mmzoo_testing import assert_checkpointing_changes_nothing
from torch.nn.modules.batchnorm import _BatchNorm

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


@pytest.mark.parametrize('name', sorted(BACKBONES))
def test_frozen_stages(name):
    model = BACKBONES[name](frozen_stages=1)
    model.train()
    for module in (model.stem, model.layer1):
        assert all(not p.requires_grad for p in module.parameters())
        assert all(not m.training for m in module.modules()
                   if isinstance(m, _BatchNorm))
    assert all(p.requires_grad for p in model.layer2.parameters())
    assert all(m.training for m in model.layer2.modules()
               if isinstance(m, _BatchNorm))


@pytest.mark.parametrize('name', sorted(BACKBONES))
def test_norm_eval_keeps_running_stats(name):
    model = BACKBONES[name](norm_eval=True)
    assert model.train() is model  # the nn.Module contract
    before = {
        key: value.clone()
        for key, value in model.state_dict().items() if 'running' in key
    }
    model(torch.rand(2, 3, 32, 32) * 5)
    assert all(not m.training for m in model.modules()
               if isinstance(m, _BatchNorm))
    after = model.state_dict()
    for key, value in before.items():
        torch.testing.assert_close(after[key], value, msg=key)


@pytest.mark.parametrize('name', sorted(BACKBONES))
def test_with_cp_gives_same_outputs_and_gradients(name):
    torch.manual_seed(0)
    assert_checkpointing_changes_nothing(
        BACKBONES[name](out_indices=(3, )),
        BACKBONES[name](out_indices=(3, ), with_cp=True),
        torch.rand(2, 3, 32, 32))


def test_zero_init_residual_leaves_a_checkpoint_alone(tmp_path):
    source = ResNet(depth=18)
    source.init_weights()
    path = tmp_path / 'resnet18.pth'
    torch.save({'state_dict': source.state_dict()}, path)
    backbone = ResNet(
        depth=18,
        zero_init_residual=True,
        init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    backbone.init_weights()
    for block, expected in zip(blocks(backbone), blocks(source)):
        torch.testing.assert_close(block.last_norm.weight,
                                   expected.last_norm.weight)
