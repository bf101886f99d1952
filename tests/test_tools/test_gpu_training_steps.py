"""One training step on the GPU from our configs (skipped without a GPU).

mmdet's two-stage detectors call mmcv's RoIAlign and NMS on every training
step; an mmcv compiled without its CUDA ops fails there on a GPU with
``nms_impl: implementation for device cuda:0 not found``.
tools/misc/setup_env.sh compiles them on a machine with a GPU and a CUDA
toolkit. Each step runs as mmengine's training loop runs it: the config's
model, moved where mmengine puts it, the config's train pipeline and
dataloader on generated data, the config's optimizer, ``model.train_step``.
"""
from collections import defaultdict

import pytest
import torch
from mmengine.config import Config
from mmengine.device import get_device
from mmengine.optim import build_optim_wrapper
from mmengine.runner import Runner
from mmzoo_testing import REPO, TRAIN_SEED

from mmzoo.registry import MODELS

pytestmark = [
    pytest.mark.skipif(
        not torch.cuda.is_available(),
        reason='needs a CUDA GPU: torch.cuda.is_available() is False'),
    pytest.mark.default_scope('mmzoo'),
]

MMCV_OPS = ('roi_align_forward', 'roi_align_backward', 'nms')
DETECTOR = ('backbone.', 'rpn_head.', 'roi_head.')


# The generated data in place of the dataset; no worker processes; from
# scratch, without the ImageNet checkpoint the configs start from.
def coco_overrides(data):
    return dict(
        train_dataloader=dict(
            num_workers=0,
            persistent_workers=False,
            dataset=dict(
                data_root=f'{data}/',
                metainfo=dict(classes=('person', 'bicycle', 'car')))),
        model=dict(backbone=dict(init_cfg=None)))


def levircd_overrides(data):
    return dict(
        train_dataloader=dict(
            num_workers=0,
            persistent_workers=False,
            dataset=dict(data_root=str(data))),
        model=dict(backbone=dict(init_cfg=None)))


# config, generated data, overrides, the mmcv ops its step must run on the
# GPU, and the parts whose weights the step must update.
CASES = {
    'mask-rcnn_swin-t': ('configs/swin/mask-rcnn_swin-t_fpn_1x_coco.py',
                         'synthetic_coco', coco_overrides, MMCV_OPS, DETECTOR),
    'faster-rcnn_res2net50':
    ('configs/res2net/faster-rcnn_res2net50-26w4s_fpn_1x_coco.py',
     'synthetic_coco', coco_overrides, MMCV_OPS, DETECTOR),
    'stanet-pam_r18':
    ('configs/stanet/stanet-pam_r18_1xb8-200e_levircd-256x256.py',
     'synthetic_levircd', levircd_overrides, (), ('backbone.', 'neck.',
                                                  'decode_head.')),
}


def test_mmcv_cuda_ops_match_torchvision():
    """mmcv's RoIAlign and NMS on the GPU against torchvision's."""
    from mmcv.ops import get_compiling_cuda_version, nms, roi_align
    assert get_compiling_cuda_version() != 'not available', (
        'mmcv was compiled without its CUDA ops: run tools/misc/setup_env.sh '
        'on this machine, with a CUDA toolkit (see the README)')
    torchvision = pytest.importorskip('torchvision')
    generator = torch.Generator().manual_seed(0)
    feats = torch.randn(2, 4, 24, 24, generator=generator).cuda()
    corners = torch.rand(16, 2, 2, generator=generator) * 40
    rois = torch.cat([
        torch.randint(0, 2, (16, 1), generator=generator).float(),
        corners.min(1).values,
        corners.max(1).values + 1
    ], 1).cuda()
    torch.testing.assert_close(
        roi_align(feats, rois, (7, 7), 0.5, 2, 'avg', True),
        torchvision.ops.roi_align(feats, rois, (7, 7), 0.5, 2, True))

    corners = torch.rand(200, 2, 2, generator=generator) * 100
    boxes = torch.cat([corners.min(1).values, corners.max(1).values + 5], 1)
    scores = torch.rand(200, generator=generator)
    _, keep = nms(boxes.cuda(), scores.cuda(), 0.5)
    assert keep.is_cuda
    assert torch.equal(keep.cpu(), torchvision.ops.nms(boxes, scores, 0.5))


@pytest.fixture
def mmcv_op_devices(monkeypatch):
    """The devices of the tensors each of ``MMCV_OPS`` ran on."""
    from mmcv import _ext
    devices = defaultdict(set)
    for name in MMCV_OPS:

        def record(*args, _name=name, _op=getattr(_ext, name), **kwargs):
            devices[_name].add(args[0].device.type)
            return _op(*args, **kwargs)

        monkeypatch.setattr(_ext, name, record)
    return devices


@pytest.mark.parametrize('case', sorted(CASES))
def test_training_step_on_gpu(case, request, mmcv_op_devices):
    config, data_fixture, overrides, ops, updated = CASES[case]
    cfg = Config.fromfile(f'{REPO}/{config}')
    cfg.merge_from_dict(overrides(request.getfixturevalue(data_fixture)))
    torch.manual_seed(TRAIN_SEED)
    model = MODELS.build(cfg.model)
    model.init_weights()
    model = model.to(get_device())
    assert all(p.is_cuda for p in model.parameters())
    loader = Runner.build_dataloader(cfg.train_dataloader, seed=TRAIN_SEED)
    optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}

    model.train()
    log_vars = model.train_step(next(iter(loader)), optim_wrapper)

    assert torch.isfinite(torch.as_tensor(log_vars['loss'])), log_vars
    for op in ops:
        assert mmcv_op_devices[op] == {'cuda'}, (op, dict(mmcv_op_devices))
    changed = [
        n for n, p in model.named_parameters()
        if not torch.equal(p, before[n])
    ]
    for part in updated:
        assert any(n.startswith(part) for n in changed), (part, changed)
    for n, p in model.named_parameters():
        assert p.is_cuda and torch.isfinite(p).all(), n
