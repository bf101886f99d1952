"""Two CPU processes (gloo), started with tools/dist_train.sh and
tools/dist_test.sh (torchrun) as users start them, train as one process does
and merge their predictions into exactly one process's metric.

Why the runs are comparable:

- BatchNorm. The UPerNet config normalises with SyncBN; on CPU
  ``mmzoo.CPUDistributedDataParallel`` synchronises it through gloo, so two
  ranks of 2 images normalise over the 4 images that one process's BatchNorm
  sees. STANet's config uses plain BN, per rank, and its batch-balanced loss
  divides by each batch's own pixel counts: two ranks of 1 pair are exactly
  one process that accumulates the gradients of two batches of 1 pair
  (``accumulative_counts=2``), which is what the test compares them with.
- Data order. With ``shuffle=False`` the sampler hands rank r the samples
  r, r + 2, ...; a step's ranks together see the samples of one process's
  step (UPerNet: {0, 2} and {1, 3} against {0, 1, 2, 3}; STANet: {0} and {1}
  against the accumulated {0} then {1}).
- No randomness: no random transforms, dropout set to 0, and both runs start
  from the same weights (``load_from``).

What stays is float32 rounding, and these networks trained from scratch
amplify it: the first step's updates agree to about 1% (one process with one
thread against two threads differs as much), and from the second step on
normalisation over a handful of values (UPerNet's globally pooled branch
normalises 4 values per channel) makes the runs diverge chaotically, in one
process as well. The test therefore compares one optimizer step and allows
5% of the update; a rank that normalised with its own statistics or trained
on the wrong samples moves the update by about 200%.
"""
import glob
import json
import os
import os.path as osp
import pickle
import socket
import subprocess
import sys
import textwrap

import pytest
import torch
from mmengine.config import Config
from mmengine.device import get_device
from mmzoo_testing import REPO, TRAIN_SEED

from mmzoo.engine.cpu_distributed import (_slurm_environment,
                                          setup_cpu_distributed)
from mmzoo.registry import MODELS

pytestmark = pytest.mark.default_scope('mmzoo')
TOOLS = osp.join(REPO, 'tools')

SEG_OVERRIDES = """
data_root = '{data}'
pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='PackSegInputs')
]
train_dataloader = dict(
    batch_size={batch}, num_workers=0, persistent_workers=False,
    sampler=dict(type='InfiniteSampler', shuffle=False),
    dataset=dict(data_root=data_root, pipeline=pipeline))
# Five of the six validation scenes: an odd split over two ranks.
test_dataloader = dict(
    batch_size=1, num_workers=0, persistent_workers=False,
    dataset=dict(data_root=data_root, pipeline=pipeline, indices=5))
model = dict(
    data_preprocessor=dict(size=(64, 64)),
    decode_head=dict(channels=32, dropout_ratio=0.0),
    auxiliary_head=dict(channels=16, dropout_ratio=0.0))
"""

STANET_OVERRIDES = """
data_root = '{data}'
train_dataloader = dict(
    batch_size={batch}, num_workers=0, persistent_workers=False,
    sampler=dict(type='InfiniteSampler', shuffle=False),
    dataset=dict(data_root=data_root, pipeline=[
        dict(type='mmzoo.LoadBitemporalImages'),
        dict(type='mmzoo.LoadChangeLabel'),
        dict(type='mmzoo.PackBitemporalInputs')
    ]))
# Three of the four test pairs: an odd split over two ranks.
test_dataloader = dict(
    num_workers=0, persistent_workers=False,
    dataset=dict(data_root=data_root, indices=3))
model = dict(
    data_preprocessor=dict(size=(128, 128)), neck=dict(dropout_ratio=0.0))
"""

COMMON = """
optim_wrapper = dict(accumulative_counts={accumulate})
train_cfg = dict(max_iters={iters}, val_interval={iters})
val_dataloader = None
val_cfg = None
val_evaluator = None
default_hooks = dict(
    checkpoint=dict(interval={iters}), logger=dict(interval=1))
"""

# config, its overrides, the data fixture, the metric, the test split's
# size, and (batch, iterations, accumulated batches) for two ranks and for
# one process.
CASES = {
    'res2net-upernet':
    ('res2net/upernet_res2net50-26w4s_1xb4-500iter_synthade20k-96x96.py',
     SEG_OVERRIDES, 'synthetic_ade20k', 'mIoU', 5, (2, 1, 1), (4, 1, 1)),
    'stanet-pam':
    ('stanet/stanet-pam_r18_1xb8-1400iter_synthlevircd-64x64.py',
     STANET_OVERRIDES, 'synthetic_levircd', 'f1', 3, (1, 1, 1), (1, 2, 2)),
}


def write_config(path, base, overrides, data, batch, iters, accumulate):
    path.write_text(f"_base_ = '{osp.join(REPO, 'configs', base)}'\n" +
                    textwrap.dedent(overrides.format(data=data, batch=batch)) +
                    COMMON.format(iters=iters, accumulate=accumulate))
    return path


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def launch(script, *args, cwd):
    """A tools/ script run as a user runs it, from ``cwd`` (where mmengine
    gathers the ranks' results, in a ``.dist_test`` folder), one thread per
    process as torchrun gives each of its processes, so that both runs compute
    alike."""
    env = dict(
        os.environ,
        OMP_NUM_THREADS='1',
        PORT=str(free_port()),
        PATH=osp.dirname(sys.executable) + os.pathsep + os.environ['PATH'])
    interpreter = 'bash' if script.endswith('.sh') else sys.executable
    result = subprocess.run([interpreter, script, *map(str, args)],
                            cwd=cwd,
                            env=env,
                            capture_output=True,
                            text=True,
                            timeout=900)
    if result.returncode != 0:
        raise AssertionError(f'{script} exited {result.returncode}:\n'
                             f'{result.stdout[-3000:]}\n'
                             f'{result.stderr[-6000:]}')


def initial_weights(config, path):
    """The model of ``config`` as its init makes it, saved for both runs."""
    torch.manual_seed(TRAIN_SEED)
    model = MODELS.build(Config.fromfile(config).model)
    model.init_weights()
    torch.save(dict(meta={}, state_dict=model.state_dict()), path)
    return model.state_dict()


def parameters(state_dict, names):
    return torch.cat([state_dict[name].flatten().double() for name in names])


def checkpoint(work_dir):
    (path, ) = glob.glob(osp.join(work_dir, 'iter_*.pth'))
    return path


def logged_metrics(work_dir):
    """The metrics mmengine's logger wrote for a test run, without its
    timings."""
    (path, ) = glob.glob(osp.join(work_dir, '*', '*.json'))
    with open(path) as f:
        metrics = json.loads(f.read().strip().splitlines()[-1])
    return {k: v for k, v in metrics.items() if k not in ('time', 'data_time')}


@pytest.mark.parametrize('case', sorted(CASES))
def test_two_processes_train_and_test_as_one(case, tmp_path, request):
    base, overrides, fixture, metric, size, ranks, one = CASES[case]
    data = request.getfixturevalue(fixture)
    configs = [
        write_config(tmp_path / f'{name}.py', base, overrides, data, *setting)
        for name, setting in (('two', ranks), ('one', one))
    ]
    init = tmp_path / 'init.pth'
    start = initial_weights(configs[0], init)
    load = ['--cfg-options', f'load_from={init}']

    launch(
        f'{TOOLS}/dist_train.sh',
        configs[0],
        '2',
        '--work-dir',
        tmp_path / 'two',
        *load,
        cwd=tmp_path)
    launch(
        f'{TOOLS}/train.py',
        configs[1],
        '--work-dir',
        tmp_path / 'one',
        *load,
        cwd=tmp_path)

    two, one = (
        torch.load(checkpoint(tmp_path / name),
                   weights_only=False)['state_dict']
        for name in ('two', 'one'))
    names = [
        n for n, p in MODELS.build(Config.fromfile(
            configs[0]).model).named_parameters()
    ]
    update = parameters(one, names) - parameters(start, names)
    gap = parameters(two, names) - parameters(one, names)
    assert update.norm() > 0
    assert gap.norm() <= 0.05 * update.norm(), (gap.norm(), update.norm())

    trained = checkpoint(tmp_path / 'two')
    launch(
        f'{TOOLS}/dist_test.sh',
        configs[0],
        trained,
        '2',
        '--work-dir',
        tmp_path / 'test-two',
        '--out',
        tmp_path / 'two.pkl',
        cwd=tmp_path)
    launch(
        f'{TOOLS}/test.py',
        configs[0],
        trained,
        '--work-dir',
        tmp_path / 'test-one',
        '--out',
        tmp_path / 'one.pkl',
        cwd=tmp_path)

    predictions = []
    for name in ('two', 'one'):
        with open(tmp_path / f'{name}.pkl', 'rb') as f:
            predictions.append(pickle.load(f))
    # Every sample once, in the split's order: collect_results drops the
    # sampler's padding of the odd split.
    assert len(predictions[0]) == len(predictions[1]) == size
    for merged, single in zip(*predictions):
        assert merged.get('img_path') == single.get('img_path')
        assert torch.equal(merged['pred_sem_seg']['data'],
                           single['pred_sem_seg']['data'])
    merged, single = (
        logged_metrics(tmp_path / name) for name in ('test-two', 'test-one'))
    assert metric in single
    assert merged == single


@pytest.mark.parametrize('script, target, args', [
    ('slurm_train.sh', 'train.py', ['CONFIG.py', 'WORK']),
    ('slurm_test.sh', 'test.py', ['CONFIG.py', 'CKPT.pth']),
])
def test_slurm_scripts_start_one_task_per_gpu(script, target, args, tmp_path):
    """The srun command line the scripts build, seen by a stand-in srun that
    records its arguments."""
    record = tmp_path / 'srun.args'
    srun = tmp_path / 'srun'
    srun.write_text(f'#!/usr/bin/env bash\nprintf "%s\\n" "$@" > {record}\n')
    srun.chmod(0o755)
    env = dict(
        os.environ,
        PATH=f'{tmp_path}{os.pathsep}{os.environ["PATH"]}',
        GPUS='8',
        GPUS_PER_NODE='4',
        CPUS_PER_TASK='3',
        SRUN_ARGS='--quotatype=auto --time=10')
    subprocess.run([
        'bash',
        osp.join(TOOLS, script), 'gpu', 'job', *args, '--cfg-options', 'a=1',
        'b=two words'
    ],
                   env=env,
                   check=True,
                   capture_output=True)
    options = ([f'--work-dir={args[1]}'] if target == 'train.py' else [])
    expected = [
        '-p', 'gpu', '--job-name=job', '--gres=gpu:4', '--ntasks=8',
        '--ntasks-per-node=4', '--cpus-per-task=3', '--kill-on-bad-exit=1',
        '--quotatype=auto', '--time=10', 'python', '-u',
        osp.join(TOOLS, target), args[0],
        *([] if target == 'train.py' else [args[1]]), *options,
        '--launcher=slurm', '--cfg-options', 'a=1', 'b=two words'
    ]
    assert record.read_text().splitlines() == expected


def test_slurm_environment_for_gloo(monkeypatch):
    """On CPU the slurm launcher's variables become torch's env:// ones, as
    mmengine's slurm launcher sets them for GPUs."""
    for key, value in dict(
            SLURM_PROCID='5',
            SLURM_NTASKS='8',
            SLURM_LOCALID='1',
            SLURM_NODELIST='node[3-4]',
            MASTER_ADDR='node3').items():
        monkeypatch.setenv(key, value)
    for key in ('WORLD_SIZE', 'RANK', 'LOCAL_RANK', 'MASTER_PORT'):
        monkeypatch.delenv(key, raising=False)
    _slurm_environment()
    assert {
        key: os.environ[key]
        for key in ('WORLD_SIZE', 'RANK', 'LOCAL_RANK', 'MASTER_ADDR',
                    'MASTER_PORT')
    } == dict(
        WORLD_SIZE='8',
        RANK='5',
        LOCAL_RANK='1',
        MASTER_ADDR='node3',
        MASTER_PORT='29500')


@pytest.mark.skipif(
    get_device() != 'cpu', reason='prepares machines without an accelerator')
def test_cpu_setup_refuses_what_gloo_cannot_run():
    """mpi, and model wrappers other than DDP, fail before any process group
    starts, naming what is at fault; a run without a launcher is left alone."""
    cfg = Config(dict(launcher='none'))
    setup_cpu_distributed(cfg)
    assert 'model_wrapper_cfg' not in cfg
    with pytest.raises(ValueError, match='--launcher mpi'):
        setup_cpu_distributed(Config(dict(launcher='mpi')))
    with pytest.raises(ValueError, match='MMFullyShardedDataParallel'):
        setup_cpu_distributed(
            Config(
                dict(
                    launcher='pytorch',
                    model_wrapper_cfg=dict(
                        type='MMFullyShardedDataParallel'))))
