"""mmzoo's registry seen from both sides: upstream configs reaching mmzoo
components, and mmzoo configs reaching upstream ones."""
import importlib
import subprocess
import sys
from typing import NamedTuple, Tuple

import pytest
import torch
from mmengine.config import Config

import mmzoo.models  # noqa: F401
from mmzoo.registry import MODELS


class UserConfig(NamedTuple):
    """A user's own config of a toolbox: the toolbox's shipped config with our
    backbone swapped in, mmzoo arriving through custom_imports alone."""
    base: str
    backbone: dict  # what the toolbox's users set in the backbone
    model: dict  # and in the model around it
    sizes: Tuple[int, ...]  # the backbone's output sizes at 64 x 64


# Configs whose backbone has a ResNet-50's widths, and Swin-T's.
RESNET_USERS = {
    'mmseg':
    UserConfig('mmseg::fcn/fcn_r50-d8_4xb2-40k_cityscapes-512x1024.py',
               dict(strides=(1, 2, 1, 1), dilations=(1, 1, 2, 4)),
               dict(pretrained=None), (16, 8, 8, 8)),
    'mmdet':
    UserConfig('mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py',
               dict(frozen_stages=1, norm_eval=True), {}, (16, 8, 4, 2)),
    'mmpretrain':
    UserConfig('mmpretrain::resnet/resnet50_8xb32_in1k.py',
               dict(out_indices=(3, )), {}, (2, )),
}
SWIN_USERS = {
    'mmseg':
    UserConfig(
        'mmseg::swin/swin-tiny-patch4-window7-in1k-pre_upernet_'
        '8xb2-160k_ade20k-512x512.py', dict(drop_path_rate=0.3), {},
        (16, 8, 4, 2)),
    'mmdet':
    UserConfig('mmdet::swin/mask-rcnn_swin-t-p4-w7_fpn_1x_coco.py',
               dict(drop_path_rate=0.2), {}, (16, 8, 4, 2)),
    'mmpretrain':
    UserConfig('mmpretrain::swin_transformer/swin-tiny_16xb64_in1k.py',
               dict(out_indices=(3, )), {}, (2, )),
}
TOOLBOXES = sorted(RESNET_USERS)


class Family(NamedTuple):
    backbone: dict
    users: dict
    widths: Tuple[int, ...]  # of the four stages


FAMILIES = {
    'Res2Net':
    Family(
        dict(type='mmzoo.Res2Net', depth=50), RESNET_USERS,
        (256, 512, 1024, 2048)),
    'ResNeSt':
    Family(
        dict(type='mmzoo.ResNeSt', depth=50), RESNET_USERS,
        (256, 512, 1024, 2048)),
    'ResNeXt':
    Family(
        dict(type='mmzoo.ResNeXt', depth=50, groups=32, base_width=4),
        RESNET_USERS, (256, 512, 1024, 2048)),
    'SwinTransformer':
    Family(
        dict(type='mmzoo.SwinTransformer', arch='tiny'), SWIN_USERS,
        (96, 192, 384, 768)),
}


def write_user_config(tmp_path, family, toolbox):
    user = FAMILIES[family].users[toolbox]
    backbone = dict(
        _delete_=True, **FAMILIES[family].backbone, **user.backbone)
    path = tmp_path / f'{toolbox}_{family}.py'
    path.write_text(f'_base_ = {user.base!r}\n'
                    "custom_imports = dict(imports=['mmzoo.models'], "
                    'allow_failed_imports=False)\n'
                    f'model = {dict(user.model, backbone=backbone)!r}\n')
    return path


BUILD_IN_FRESH_PROCESS = """
import sys
from mmengine.config import Config
from mmengine.registry import MODELS, init_default_scope
cfg = Config.fromfile(sys.argv[1])
init_default_scope(cfg.default_scope)
model = MODELS.build(cfg.model)
print(type(model).__module__.split('.')[0], type(model.backbone).__module__)
"""


@pytest.mark.parametrize('toolbox', TOOLBOXES)
def test_upstream_config_builds_mmzoo_backbone(toolbox, tmp_path):
    cfg_file = write_user_config(tmp_path, 'Res2Net', toolbox)
    # A fresh interpreter: mmzoo must arrive through custom_imports alone.
    result = subprocess.run(
        [sys.executable, '-c', BUILD_IN_FRESH_PROCESS,
         str(cfg_file)],
        capture_output=True,
        text=True,
        timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    model_pkg, backbone_module = result.stdout.split()[-2:]
    assert model_pkg == toolbox
    assert backbone_module == 'mmzoo.models.backbones.res2net'


@pytest.mark.parametrize('default_scope', TOOLBOXES, indirect=True)
@pytest.mark.parametrize('family', sorted(FAMILIES))
def test_upstream_registry_builds_every_mmzoo_backbone(family, default_scope,
                                                       tmp_path):
    """The toolbox's own registry, under its own scope, builds a user's config
    with our backbone, whose features the toolbox's necks and heads take."""
    toolbox = default_scope
    cfg = Config.fromfile(str(write_user_config(tmp_path, family, toolbox)))
    assert cfg.default_scope == toolbox
    registry = importlib.import_module(f'{toolbox}.registry').MODELS
    model = registry.build(cfg.model).eval()
    assert type(model).__module__.startswith(f'{toolbox}.')
    assert type(model.backbone).__module__.startswith('mmzoo.')
    assert type(model.backbone).__name__ == family
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        outs = model.backbone(x)
        feats = model.extract_feat(x)
    widths = FAMILIES[family].widths
    sizes = FAMILIES[family].users[toolbox].sizes
    assert [tuple(o.shape) for o in outs
            ] == [(1, w, s, s) for w, s in zip(widths[-len(sizes):], sizes)]
    if toolbox == 'mmdet':  # FPN levels
        assert [f.shape[-1] for f in feats] == [16, 8, 4, 2, 1]
    elif toolbox == 'mmpretrain':  # pooled
        assert feats[0].shape == (1, widths[-1])


@pytest.mark.default_scope('mmseg')
def test_misspelled_type_from_upstream_scope_explains_itself():
    from mmseg.registry import MODELS as SEG_MODELS
    with pytest.raises(KeyError) as info:
        SEG_MODELS.build(dict(type='mmzoo.Res2Nte', depth=50))
    message = str(info.value)
    for expected in ('`Res2Nte`', 'mmzoo::model', "'Res2Net'",
                     "custom_imports = dict(imports=['mmzoo.models']"):
        assert expected in message


@pytest.mark.default_scope('mmzoo')
def test_misspelled_type_in_mmzoo_scope_explains_itself():
    with pytest.raises(KeyError, match=r"Did you mean 'Res2Net'"):
        MODELS.build(dict(type='Res2Nte', depth=50))


@pytest.mark.default_scope('mmzoo')
def test_upstream_type_without_scope_suggests_prefix():
    import mmseg.models  # noqa: F401
    with pytest.raises(KeyError, match=r"'mmseg.EncoderDecoder'"):
        MODELS.build(dict(type='EncoderDecoder'))


def test_membership_test_does_not_raise():
    assert 'Res2Net' in MODELS
    assert 'Res2Nte' not in MODELS


HEAD = dict(type='FCNHead', in_channels=8, channels=8, num_classes=3)


@pytest.mark.default_scope('mmzoo')
def test_upstream_head_builds_its_default_loss_under_its_scope():
    """The scope trap: a head's default loss is looked up in the current scope.

    Our configs give upstream dicts `_scope_`, so it resolves.
    """
    from mmseg.models.losses import CrossEntropyLoss
    head = MODELS.build(dict(_scope_='mmseg', **HEAD))
    assert isinstance(head.loss_decode, CrossEntropyLoss)


@pytest.mark.default_scope('mmzoo')
def test_upstream_head_without_scope_fails_on_its_default_loss():
    import mmseg.models  # noqa: F401
    with pytest.raises(KeyError, match='CrossEntropyLoss'):
        MODELS.build(dict(HEAD, type='mmseg.FCNHead'))


def test_engine_components_resolve_without_importing_mmzoo_engine():
    """A user's config names ``runner_type='mmzoo.MMZooRunner'`` (or our model
    wrapper or vis backend) without importing mmzoo.engine itself: the
    registries' locations import it."""
    code = ('from mmengine.registry import MODEL_WRAPPERS, RUNNERS, '
            'VISBACKENDS\n'
            "print(RUNNERS.get('mmzoo.MMZooRunner').__module__, "
            "MODEL_WRAPPERS.get('mmzoo.CPUDistributedDataParallel')"
            '.__module__, '
            "VISBACKENDS.get('mmzoo.AtomicLocalVisBackend').__module__)")
    result = subprocess.run([sys.executable, '-c', code],
                            capture_output=True,
                            text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split() == [
        'mmzoo.engine.runner', 'mmzoo.engine.cpu_distributed',
        'mmzoo.engine.vis_backend'
    ]
