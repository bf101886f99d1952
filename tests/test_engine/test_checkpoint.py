"""Safe (weights_only) checkpoint loading, refusal of foreign objects, atomic
writing through mmengine, and exact resume."""
import os
import os.path as osp
import pickle
import textwrap

import mmcv
import mmengine
import numpy as np
import pytest
import torch
from mmengine.fileio import get_file_backend
from mmengine.fileio import io as fileio_io
from mmengine.fileio.backends import registry_utils
from mmengine.logging.history_buffer import HistoryBuffer
from mmengine.runner import CheckpointLoader, save_checkpoint
from mmzoo_testing import REPO, TRAIN_SEED, run_tool

from mmzoo.engine import (CheckpointMismatchError, CorruptCheckpointError,
                          UnsafeCheckpointError, check_state_dict,
                          install_checkpoint_safety, load_checkpoint_file,
                          remove_stale_partials)
from mmzoo.engine.checkpoint import AtomicLocalBackend


@pytest.fixture(autouse=True)
def checkpoint_safety():
    """Take the step our tools take, and give mmengine back its own loader and
    backends afterwards, so that no other test depends on this one."""
    schemes = CheckpointLoader._schemes.copy()
    backends = dict(registry_utils.backends)
    prefixes = dict(registry_utils.prefix_to_backends)
    install_checkpoint_safety()
    yield
    CheckpointLoader._schemes = schemes
    for registered, saved in ((registry_utils.backends, backends),
                              (registry_utils.prefix_to_backends, prefixes)):
        registered.clear()
        registered.update(saved)
    fileio_io.backend_instances.clear()


def mmengine_like_checkpoint():
    """What mmengine's Runner writes besides weights: message-hub history
    buffers (numpy arrays inside) and numpy scalars in runtime info."""
    buffer = HistoryBuffer()
    buffer.update(0.5)
    buffer.update(0.25)
    return dict(
        meta=dict(epoch=1, iter=10, seed=3, cfg='model = dict()'),
        state_dict={'w': torch.ones(2)},
        message_hub=dict(
            log_scalars={'train/loss': buffer},
            runtime_info={'best_score': np.float64(0.7)},
            resumed_keys={'train/loss': True}),
        rng_state=dict(numpy=np.random.get_state()))


def test_plain_torch_load_refuses_what_mmengine_writes(tmp_path):
    """The problem being solved: torch's default (weights_only) refuses
    mmengine's own checkpoints."""
    path = tmp_path / 'ckpt.pth'
    torch.save(mmengine_like_checkpoint(), path)
    with pytest.raises(pickle.UnpicklingError):
        torch.load(path)


def test_safe_loader_reads_mmengine_checkpoint(tmp_path):
    path = str(tmp_path / 'ckpt.pth')
    save_checkpoint(mmengine_like_checkpoint(), path)
    ckpt = load_checkpoint_file(path)
    buffer = ckpt['message_hub']['log_scalars']['train/loss']
    assert buffer.mean() == pytest.approx(0.375)
    assert ckpt['message_hub']['runtime_info']['best_score'] == 0.7
    # mmengine's own loading entry point goes through our loader
    assert CheckpointLoader.load_checkpoint(path)['meta']['seed'] == 3


class Payload:
    """Unpickling this would run code: it must never be loaded."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, 'w'))


def test_foreign_pickled_object_is_refused(tmp_path):
    marker = tmp_path / 'code-ran'
    path = tmp_path / 'evil.pth'
    torch.save(
        dict(state_dict={'w': torch.ones(1)}, payload=Payload(str(marker))),
        path)
    with pytest.raises(UnsafeCheckpointError) as info:
        load_checkpoint_file(str(path))
    assert str(path) in str(info.value)
    assert 'io.open' in str(info.value)
    assert not marker.exists()


def test_missing_checkpoint_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        load_checkpoint_file(str(tmp_path / 'nope.pth'))


@pytest.mark.parametrize(
    'damage', [
        lambda data: data[:len(data) // 2],
        lambda data: np.random.default_rng(0).integers(0, 128, 4000, np.uint8).
        tobytes(),
        lambda data: b'',
    ],
    ids=['cut in half', 'random bytes', 'empty'])
def test_a_torn_checkpoint_is_refused_naming_the_file(tmp_path, damage):
    path = tmp_path / 'iter_8.pth'
    save_checkpoint(mmengine_like_checkpoint(), str(path))
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(CorruptCheckpointError) as info:
        load_checkpoint_file(str(path))
    assert str(
        info.value).startswith(f'{path} is not a complete torch checkpoint')
    assert 'truncated or corrupt' in str(info.value)


def test_a_foreign_object_in_a_legacy_file_is_unsafe_not_corrupt(tmp_path):
    """torch's pre-1.6 format cannot be listed before loading; the refusal must
    still say what it is."""
    path = tmp_path / 'legacy.pth'
    torch.save(
        dict(payload=Payload(str(tmp_path / 'ran'))),
        path,
        _use_new_zipfile_serialization=False)
    with pytest.raises(UnsafeCheckpointError, match='legacy.pth'):
        load_checkpoint_file(str(path))
    assert not (tmp_path / 'ran').exists()


def test_stale_partials_are_removed_and_nothing_else(tmp_path):
    partials = [
        '.iter_8.pth.k2j4x9a_', '.last_checkpoint.0abcdefg',
        '.best_mIoU_iter_4.pth.zz9_8y7x'
    ]
    kept = [
        'iter_8.pth', '.iter_8.pth', 'notes.iter_8.pth.k2j4x9a_', '.git',
        '.iter_8.pth.k2j4x9a_.txt', 'last_checkpoint'
    ]
    for name in partials + kept:
        (tmp_path / name).write_bytes(b'x')
    removed = remove_stale_partials(str(tmp_path))
    assert sorted(removed) == sorted(str(tmp_path / n) for n in partials)
    assert sorted(os.listdir(tmp_path)) == sorted(kept)


def test_check_state_dict_names_the_file_and_keys():
    model = torch.nn.Sequential(
        torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4),
        torch.nn.Linear(4, 2))
    state = model.state_dict()
    # What fits passes: a DataParallel prefix is stripped and BN counters
    # may be missing, as mmengine allows.
    check_state_dict(
        model, {
            f'module.{k}': v
            for k, v in state.items() if 'num_batches_tracked' not in k
        }, 'ok.pth')
    state = dict(state)
    del state['2.bias']
    state['3.weight'] = torch.ones(1)
    state['0.weight'] = torch.ones(4, 3, 5, 5)
    with pytest.raises(CheckpointMismatchError) as info:
        check_state_dict(model, state, 'other.pth')
    message = str(info.value)
    assert message.startswith('other.pth does not fit the model Sequential')
    assert '1 missing keys: 2.bias' in message
    assert '1 unexpected keys: 3.weight' in message
    assert '0.weight (4, 3, 5, 5) in the checkpoint, (4, 3, 3, 3) in the ' \
        'model' in message


def test_mmengine_writes_through_atomic_backend(tmp_path):
    assert isinstance(
        get_file_backend(str(tmp_path / 'a.pth')), AtomicLocalBackend)


@pytest.mark.parametrize(
    'name, write', [
        ('out.pkl', lambda path: mmengine.dump([dict(pred=np.ones(3))], path)),
        ('out.png',
         lambda path: mmcv.imwrite(np.zeros((4, 4, 3), np.uint8), path)),
    ],
    ids=['metric dump (tools/test.py --out)', 'picture (mmcv.imwrite)'])
def test_a_kill_while_writing_an_output_leaves_no_file(tmp_path, monkeypatch,
                                                       name, write):
    """What DumpResults and mmdet's and mmpretrain's visualisation hooks write
    goes through mmengine's file backend: killed before the rename, neither a
    truncated file nor a temporary one is left."""
    path = tmp_path / name

    def killed(src, dst):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, 'replace', killed)
    with pytest.raises(KeyboardInterrupt):
        write(str(path))
    assert os.listdir(tmp_path) == []


RESUME_CONFIG = """
_base_ = '{base}'
data_root = '{data_root}'
crop_size = (48, 48)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='RandomResize', scale=(64, 64), ratio_range=(0.75, 1.5),
         keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs')
]
train_dataloader = dict(
    batch_size=2, num_workers=0, persistent_workers=False,
    dataset=dict(data_root=data_root, pipeline=train_pipeline))
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(init_cfg=None),
    decode_head=dict(channels=32, num_classes=5),
    auxiliary_head=dict(channels=16, num_classes=5))
# The config's learning rate is for 4 GPUs x 4 images; --auto-scale-lr
# scales it to this batch.
auto_scale_lr = dict(base_batch_size=16)
train_cfg = dict(max_iters={iters}, val_interval=1000)
val_dataloader = None
val_cfg = None
val_evaluator = None
test_dataloader = None
test_cfg = None
test_evaluator = None
default_hooks = dict(
    checkpoint=dict(interval={interval}),
    logger=dict(interval=1),
    visualization=dict(draw=False))
"""


def write_resume_config(tmp_path, data_root, iters, interval):
    base = osp.join(
        REPO, 'configs/res2net/'
        'upernet_res2net50-26w4s_4xb4-80k_ade20k-512x512.py')
    path = tmp_path / f'resume_{iters}_{interval}.py'
    path.write_text(
        textwrap.dedent(
            RESUME_CONFIG.format(
                base=base, data_root=data_root, iters=iters,
                interval=interval)))
    return path


def final_weights(work_dir, iters):
    return load_checkpoint_file(osp.join(work_dir, f'iter_{iters}.pth'))


def test_resume_continues_exactly(tmp_path, synthetic_ade20k):
    """N iterations straight equal N/2, a stop, and a resume for N/2 more:

    weights, optimizer state and BN statistics, with random augmentation and
    dropout in play. The resumed run is given no seed: it must take the
    interrupted run's seed from the checkpoint.
    """
    n = 6
    straight_dir, resumed_dir = tmp_path / 'straight', tmp_path / 'resumed'
    config = write_resume_config(tmp_path, synthetic_ade20k, n, n // 2)
    options = ('--auto-scale-lr', '--cfg-options',
               f'randomness.seed={TRAIN_SEED}')
    run_tool('tools/train.py', config, '--work-dir', straight_dir, *options)

    half = write_resume_config(tmp_path, synthetic_ade20k, n // 2, n // 2)
    run_tool('tools/train.py', half, '--work-dir', resumed_dir, *options)
    run_tool('tools/train.py', config, '--work-dir', resumed_dir, '--resume',
             '--auto-scale-lr')

    straight = final_weights(straight_dir, n)
    resumed = final_weights(resumed_dir, n)
    assert straight['meta']['iter'] == resumed['meta']['iter'] == n
    assert straight['state_dict'].keys() == resumed['state_dict'].keys()
    for key, value in straight['state_dict'].items():
        torch.testing.assert_close(
            resumed['state_dict'][key], value, rtol=0, atol=0, msg=key)
    momentum = [
        s['momentum_buffer'] for s in straight['optimizer']['state'].values()
    ]
    momentum_resumed = [
        s['momentum_buffer'] for s in resumed['optimizer']['state'].values()
    ]
    for a, b in zip(momentum, momentum_resumed):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
