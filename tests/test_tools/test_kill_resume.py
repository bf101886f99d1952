"""A training run killed with SIGKILL in the middle of an epoch, after one
checkpoint and before the next, resumed with ``tools/train.py --resume``, ends
with exactly the weights of a run that was never interrupted."""
import glob
import os
import os.path as osp
import re
import signal
import subprocess
import sys
import textwrap
import time

import torch
from mmzoo_testing import REPO, TRAIN_SEED

EPOCHS = 2
ITERS_PER_EPOCH = 8  # 16 training pairs, 2 per batch

# The demo config (random rotation and crops, Adam, the RNG-state hook) as
# an epoch-based run over the test's small set; no validation.
OVERRIDES = f"""
data_root = '{{data}}'
train_dataloader = dict(
    batch_size=2, num_workers=0, persistent_workers=False,
    sampler=dict(_delete_=True, type='DefaultSampler', shuffle=True),
    dataset=dict(data_root=data_root))
val_dataloader = None
val_cfg = None
val_evaluator = None
train_cfg = dict(
    _delete_=True, type='EpochBasedTrainLoop', max_epochs={EPOCHS})
default_hooks = dict(
    checkpoint=dict(by_epoch=True, interval=1),
    logger=dict(interval=1, log_metric_by_epoch=True))
log_processor = dict(by_epoch=True)
"""

# Seeded and deterministic; one thread, so that every run adds up its sums in
# one order.
OPTIONS = ('--cfg-options', f'randomness.seed={TRAIN_SEED}',
           'randomness.deterministic=True')
ENV = dict(os.environ, OMP_NUM_THREADS='1')


def logged_iterations(work_dir, epoch):
    """The iterations of ``epoch`` that the run's log reports done."""
    text = ''.join(
        open(path).read()
        for path in glob.glob(osp.join(work_dir, '*', '*.log')))
    return [
        int(i) for i in re.findall(
            rf'Epoch\(train\)\s*\[{epoch}\]\[\s*(\d+)/{ITERS_PER_EPOCH}\]',
            text)
    ]


def kill_during_second_epoch(config, work_dir, timeout=600):
    """Start training and SIGKILL it once the log shows two iterations of epoch
    2 (epoch 1's checkpoint written, six iterations before epoch 2's).

    The log is polled rather than timed, so that a loaded machine only makes it
    slower.
    """
    process = subprocess.Popen([
        sys.executable, 'tools/train.py', config, '--work-dir', work_dir,
        *OPTIONS
    ],
                               cwd=REPO,
                               env=ENV,
                               stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE,
                               text=True)
    deadline = time.monotonic() + timeout
    try:
        while not any(i >= 2 for i in logged_iterations(work_dir, 2)):
            if process.poll() is not None:
                raise AssertionError('training ended before the kill:\n' +
                                     process.stderr.read()[-4000:])
            if time.monotonic() > deadline:
                raise AssertionError('epoch 2 did not start in time')
            time.sleep(0.02)
        process.send_signal(signal.SIGKILL)
    finally:
        process.kill()
        process.wait()
        process.stderr.close()
    assert process.returncode == -signal.SIGKILL


def train(config, work_dir, *args):
    result = subprocess.run([
        sys.executable, 'tools/train.py', config, '--work-dir', work_dir,
        *args, *OPTIONS
    ],
                            cwd=REPO,
                            env=ENV,
                            capture_output=True,
                            text=True,
                            timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]


def weights(path):
    return torch.load(path, map_location='cpu', weights_only=False)


def test_killed_run_resumes_to_the_uninterrupted_weights(
        synthetic_levircd, tmp_path):
    config = tmp_path / 'stanet.py'
    base = osp.join(
        REPO, 'configs/stanet/'
        'stanet-pam_r18_1xb8-1400iter_synthlevircd-64x64.py')
    config.write_text(
        f"_base_ = '{base}'\n" +
        textwrap.dedent(OVERRIDES.format(data=synthetic_levircd)))

    whole = tmp_path / 'whole'
    train(config, whole)

    killed = tmp_path / 'killed'
    kill_during_second_epoch(config, killed)
    # Killed in the middle of epoch 2: its first checkpoint complete, the
    # second never begun.
    done = logged_iterations(killed, 2)
    assert 2 <= max(done) < ITERS_PER_EPOCH, done
    assert (killed / 'epoch_1.pth').is_file()
    assert not glob.glob(str(killed / '*epoch_2.pth*'))

    train(config, killed, '--resume')

    expected = weights(whole / f'epoch_{EPOCHS}.pth')
    resumed = weights(killed / f'epoch_{EPOCHS}.pth')
    assert resumed['meta']['epoch'] == expected['meta']['epoch'] == EPOCHS
    assert expected['state_dict'].keys() == resumed['state_dict'].keys()
    for name, tensor in expected['state_dict'].items():
        assert torch.equal(resumed['state_dict'][name], tensor), name
