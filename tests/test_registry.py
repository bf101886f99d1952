"""mmzoo's registry seen from both sides: upstream configs reaching mmzoo
components, and mmzoo configs reaching upstream ones."""
import subprocess
import sys
import textwrap

import pytest
from mmengine.registry import DefaultScope, init_default_scope

import mmzoo.models  # noqa: F401
from mmzoo.registry import MODELS

# A user's own config of each toolbox, inheriting the toolbox's shipped
# config and swapping in our backbone: nothing else of mmzoo is involved.
USER_CONFIGS = {
    'mmseg': """
        _base_ = 'mmseg::fcn/fcn_r50-d8_4xb2-40k_cityscapes-512x1024.py'
        custom_imports = dict(imports=['mmzoo.models'],
                              allow_failed_imports=False)
        model = dict(pretrained=None,
                     backbone=dict(_delete_=True, type='mmzoo.Res2Net',
                                   depth=50, strides=(1, 2, 1, 1),
                                   dilations=(1, 1, 2, 4)))
        """,
    'mmdet': """
        _base_ = 'mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py'
        custom_imports = dict(imports=['mmzoo.models'],
                              allow_failed_imports=False)
        model = dict(backbone=dict(_delete_=True, type='mmzoo.Res2Net',
                                   depth=50, frozen_stages=1,
                                   norm_eval=True))
        """,
    'mmpretrain': """
        _base_ = 'mmpretrain::resnet/resnet50_8xb32_in1k.py'
        custom_imports = dict(imports=['mmzoo.models'],
                              allow_failed_imports=False)
        model = dict(backbone=dict(_delete_=True, type='mmzoo.Res2Net',
                                   depth=50, out_indices=(3, )))
        """,
}

BUILD_IN_FRESH_PROCESS = """
import sys
from mmengine.config import Config
from mmengine.registry import MODELS, init_default_scope
cfg = Config.fromfile(sys.argv[1])
init_default_scope(cfg.default_scope)
model = MODELS.build(cfg.model)
print(type(model).__module__.split('.')[0], type(model.backbone).__module__)
"""


@pytest.mark.parametrize('toolbox', sorted(USER_CONFIGS))
def test_upstream_config_builds_mmzoo_backbone(toolbox, tmp_path):
    cfg_file = tmp_path / f'{toolbox}_res2net.py'
    cfg_file.write_text(textwrap.dedent(USER_CONFIGS[toolbox]))
    # A fresh interpreter: mmzoo must arrive through custom_imports alone.
    result = subprocess.run(
        [sys.executable, '-c', BUILD_IN_FRESH_PROCESS, str(cfg_file)],
        capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    model_pkg, backbone_module = result.stdout.split()[-2:]
    assert model_pkg == toolbox
    assert backbone_module == 'mmzoo.models.backbones.res2net'


@pytest.fixture
def scope():
    """Run a test under a default scope, restoring the previous one."""
    def enter(name):
        init_default_scope(name)
    previous = DefaultScope.get_current_instance()
    yield enter
    if previous is not None:
        init_default_scope(previous.scope_name)


def test_misspelled_type_from_upstream_scope_explains_itself(scope):
    from mmseg.registry import MODELS as SEG_MODELS
    scope('mmseg')
    with pytest.raises(KeyError) as info:
        SEG_MODELS.build(dict(type='mmzoo.Res2Nte', depth=50))
    message = str(info.value)
    for expected in ('`Res2Nte`', 'mmzoo::model', "'Res2Net'",
                     "custom_imports = dict(imports=['mmzoo.models']"):
        assert expected in message


def test_misspelled_type_in_mmzoo_scope_explains_itself(scope):
    scope('mmzoo')
    with pytest.raises(KeyError, match=r"Did you mean 'Res2Net'"):
        MODELS.build(dict(type='Res2Nte', depth=50))


def test_upstream_type_without_scope_suggests_prefix(scope):
    import mmseg.models  # noqa: F401
    scope('mmzoo')
    with pytest.raises(KeyError, match=r"'mmseg.EncoderDecoder'"):
        MODELS.build(dict(type='EncoderDecoder'))


def test_membership_test_does_not_raise():
    assert 'Res2Net' in MODELS
    assert 'Res2Nte' not in MODELS


HEAD = dict(type='FCNHead', in_channels=8, channels=8, num_classes=3)


def test_upstream_head_builds_its_default_loss_under_its_scope(scope):
    """The scope trap: a head's default loss is looked up in the current
    scope. Our configs give upstream dicts `_scope_`, so it resolves."""
    from mmseg.models.losses import CrossEntropyLoss
    scope('mmzoo')
    head = MODELS.build(dict(_scope_='mmseg', **HEAD))
    assert isinstance(head.loss_decode, CrossEntropyLoss)


def test_upstream_head_without_scope_fails_on_its_default_loss(scope):
    import mmseg.models  # noqa: F401
    scope('mmzoo')
    with pytest.raises(KeyError, match='CrossEntropyLoss'):
        MODELS.build(dict(HEAD, type='mmseg.FCNHead'))
