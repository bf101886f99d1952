"""MMZooRunner on a toy model: strict and partial loading, resuming from the
newest complete checkpoint, the work dir after a refused start, atomic pictures
and checkpoint pointers, and sample errors that name files."""
import hashlib
import os
import shutil
import uuid

import numpy as np
import pytest
import torch
from mmcv.transforms import LoadImageFromFile
from mmengine.config import Config
from mmengine.dataset import BaseDataset
from mmengine.model import BaseModel
from torch import nn

from mmzoo.engine import (AtomicCheckpointHook, AtomicLocalVisBackend,
                          CheckpointMismatchError, MMZooRunner, SampleError,
                          install_checkpoint_safety)


@pytest.fixture(autouse=True)
def checkpoint_safety():
    """The step our tools take before they build a runner."""
    install_checkpoint_safety()


class Toy(BaseModel):
    """A linear layer and a BatchNorm: a regression to zero."""

    def __init__(self, width=3):
        super().__init__()
        self.linear = nn.Linear(2, width)
        self.bn = nn.BatchNorm1d(width)

    def forward(self, inputs, data_samples=None, mode='tensor'):
        out = self.bn(self.linear(inputs))
        if mode == 'loss':
            return dict(loss=out.square().mean())
        return out


class Points(torch.utils.data.Dataset):

    def __len__(self):
        return 8

    def __getitem__(self, index):
        return dict(inputs=torch.tensor([index, 1.0 - index]))


def make_runner(work_dir, width=3, max_iters=2, config_name='toy.py', **kw):
    cfg = Config(dict(allow_partial_load=kw.pop('allow_partial_load', False)))
    cfg.filename = str(work_dir.parent / config_name)
    torch.manual_seed(0)
    return MMZooRunner(
        model=Toy(width),
        work_dir=str(work_dir),
        train_dataloader=dict(
            dataset=Points(),
            sampler=dict(type='DefaultSampler', shuffle=False),
            batch_size=4,
            collate_fn=dict(type='default_collate')),
        train_cfg=dict(by_epoch=False, max_iters=max_iters),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1, momentum=0.9)),
        default_hooks=dict(
            checkpoint=dict(type='CheckpointHook', interval=1,
                            by_epoch=False)),
        experiment_name=kw.pop('experiment_name',
                               uuid.uuid4().hex),
        randomness=dict(seed=0),
        cfg=cfg,
        **kw)


def snapshot(folder):
    """Every path under ``folder``: a file's size, mtime and content hash."""
    state = {}
    for root, dirs, files in os.walk(folder):
        for name in dirs:
            state[os.path.relpath(os.path.join(root, name), folder)] = 'dir'
        for name in files:
            path = os.path.join(root, name)
            with open(path, 'rb') as f:
                digest = hashlib.sha256(f.read()).hexdigest()
            stat = os.stat(path)
            state[os.path.relpath(path, folder)] = (stat.st_size,
                                                    stat.st_mtime_ns, digest)
    return state


@pytest.fixture(scope='module')
def trained_once(tmp_path_factory):
    work_dir = tmp_path_factory.mktemp('toy') / 'trained'
    make_runner(work_dir, max_iters=3).train()
    return work_dir


@pytest.fixture
def trained(trained_once, tmp_path):
    """A work dir after three iterations, a checkpoint after each (a copy that
    the test may change)."""
    work_dir = tmp_path / 'trained'
    shutil.copytree(trained_once, work_dir)
    (work_dir / 'last_checkpoint').write_text(str(work_dir / 'iter_3.pth'))
    return work_dir


def test_checkpoint_of_another_shape_is_refused_and_the_work_dir_kept(
        tmp_path, trained):
    """A run refused for its checkpoint leaves the work dir as it was: the log
    folder it made is gone and the earlier run's dumped config (same name,
    overwritten while starting) is put back."""
    work_dir = tmp_path / 'other'
    work_dir.mkdir()
    (work_dir / 'toy.py').write_text('# the earlier run\n')
    os.utime(work_dir / 'toy.py', ns=(10**18, 10**18))
    before = snapshot(tmp_path)
    with pytest.raises(CheckpointMismatchError) as error:
        make_runner(work_dir, width=4, load_from=str(trained / 'iter_3.pth'))
    message = str(error.value)
    assert str(trained / 'iter_3.pth') in message
    assert 'linear.weight (3, 2) in the checkpoint, (4, 2) in the model' \
        in message
    assert '--allow-partial-load' in message
    assert snapshot(tmp_path) == before


def test_partial_load_takes_what_fits(tmp_path, trained):
    checkpoint = torch.load(trained / 'iter_3.pth', weights_only=False)
    state = checkpoint['state_dict']
    weights = {
        'linear.weight': state['linear.weight'],
        'head.w': torch.ones(1)
    }
    torch.save(dict(state_dict=weights), tmp_path / 'partial.pth')
    runner = make_runner(
        tmp_path / 'work',
        load_from=str(tmp_path / 'partial.pth'),
        allow_partial_load=True)
    runner.load_or_resume()
    torch.testing.assert_close(runner.model.linear.weight,
                               state['linear.weight'])
    # What the checkpoint lacks keeps its initialisation.
    torch.manual_seed(0)
    torch.testing.assert_close(runner.model.linear.bias, Toy().linear.bias)


def test_resume_takes_the_newest_complete_checkpoint(trained):
    """The newest checkpoint torn in half, last_checkpoint emptied and a
    partial save left by a kill: --resume without a path goes back to iteration
    2, says so, trains on to 3 and removes the partial file."""
    newest = trained / 'iter_3.pth'
    data = newest.read_bytes()
    newest.write_bytes(data[:len(data) // 2])
    (trained / 'last_checkpoint').write_text('')
    partial = trained / '.iter_4.pth.k2j4x9a_'
    partial.write_bytes(b'half a checkpoint')
    runner = make_runner(trained, max_iters=3, resume=True)
    runner.train()
    (log_file, ) = [
        h.baseFilename for h in runner.logger.handlers
        if hasattr(h, 'baseFilename')
    ]
    with open(log_file) as f:
        out = f.read()
    assert f'--resume skips {newest}: not a complete torch checkpoint' in out
    assert 'truncated or corrupt' in out
    assert f'{trained / "iter_2.pth"} is the newest complete checkpoint' in out
    assert not partial.exists()
    resumed = torch.load(newest, weights_only=False)
    assert resumed['meta']['iter'] == 3
    assert (trained / 'last_checkpoint').read_text() == str(newest)


def test_the_checkpoint_pointer_survives_a_kill_while_written(
        tmp_path, monkeypatch):
    """mmengine's CheckpointHook opens last_checkpoint for writing (emptying
    it) before it writes; killed there, a resume finds a blank path.

    Ours renames a complete file into place: a kill before the rename leaves
    the previous pointer.
    """
    runner = make_runner(tmp_path / 'work', max_iters=1)
    (hook, ) = [h for h in runner.hooks if isinstance(h, AtomicCheckpointHook)]
    runner.train()
    pointer = tmp_path / 'work' / 'last_checkpoint'
    assert pointer.read_text().endswith('iter_1.pth')
    replace = os.replace

    def killed_at_the_pointer(src, dst):
        if str(dst).endswith('last_checkpoint'):
            raise KeyboardInterrupt
        replace(src, dst)

    monkeypatch.setattr(os, 'replace', killed_at_the_pointer)
    with pytest.raises(KeyboardInterrupt):
        hook._save_checkpoint_with_step(runner, 2, dict(epoch=0, iter=2))
    assert (tmp_path / 'work' / 'iter_2.pth').is_file()
    assert pointer.read_text().endswith('iter_1.pth')
    assert not [p for p in os.listdir(pointer.parent) if p.startswith('.')]


def test_pictures_are_written_atomically(tmp_path, monkeypatch):
    runner = make_runner(tmp_path / 'work')
    backends = list(runner.visualizer._vis_backends.values())
    assert [type(b) for b in backends] == [AtomicLocalVisBackend]
    image = np.random.default_rng(0).integers(0, 256, (5, 7, 3), np.uint8)
    runner.visualizer.add_image('pair', image, step=3)
    (written, ) = (tmp_path / 'work').rglob('pair_3.png')
    from PIL import Image
    np.testing.assert_array_equal(np.asarray(Image.open(written)), image)

    def killed(src, dst):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, 'replace', killed)
    with pytest.raises(KeyboardInterrupt):
        runner.visualizer.add_image('pair', image, step=4)
    assert not list((tmp_path / 'work').rglob('*pair_4*'))


class Images(BaseDataset):

    def __init__(self, paths, **kwargs):
        self.paths = paths
        super().__init__(**kwargs)

    def load_data_list(self):
        return [dict(img_path=str(p)) for p in self.paths]


@pytest.mark.parametrize(
    'content', [b'', b'not a picture'], ids=['empty', 'text'])
def test_a_sample_that_cannot_be_loaded_is_named(tmp_path, content):
    """mmcv's LoadImageFromFile, as mmseg, mmdet and mmpretrain configs use
    it: an empty file raises a bare cv2.error there."""
    path = tmp_path / 'broken.png'
    path.write_bytes(content)
    loader = MMZooRunner.build_dataloader(
        dict(
            dataset=Images([path], pipeline=[LoadImageFromFile()]),
            sampler=dict(type='DefaultSampler', shuffle=False),
            batch_size=1))
    with pytest.raises((SampleError, AssertionError), match='broken.png'):
        loader.dataset[0]


def test_runs_started_in_the_same_second_keep_their_own_logs(
        tmp_path, monkeypatch):
    """mmengine hands back an existing logger or visualizer of the same name;
    two runs of one config within one second must not share them."""
    import mmengine.runner.runner as runner_module
    monkeypatch.setattr(runner_module.time, 'strftime',
                        lambda *args: '20260101_000000')
    first = make_runner(tmp_path / 'work', experiment_name='same')
    second = make_runner(tmp_path / 'work', experiment_name='same')
    assert first.log_dir != second.log_dir
    assert first.logger is not second.logger
    assert first.visualizer is not second.visualizer
    for runner in (first, second):
        runner.train()
        assert os.listdir(runner.log_dir), runner.log_dir
    logs = [
        os.path.join(r.log_dir, f'{r.timestamp}.log') for r in (first, second)
    ]
    assert all(os.path.isfile(log) for log in logs), logs
    assert second.timestamp == '20260101_000000_1'
