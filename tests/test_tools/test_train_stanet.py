"""STANet-PAM through tools/train.py and tools/test.py on generated pairs in
the style of LEVIR-CD: it has to learn the changes, not just run."""
import glob
import json
import os.path as osp
import textwrap

import numpy as np
from mmzoo_testing import REPO, TRAIN_SEED, run_tool
from PIL import Image

ITERS = 60

# The demo config on the test's small generated set: its 64x64 crops and
# pipeline, fewer iterations, no worker processes.
OVERRIDES = """
data_root = '{data}'
train_dataloader = dict(
    batch_size=4, num_workers=0, persistent_workers=False,
    dataset=dict(data_root=data_root))
val_dataloader = dict(
    num_workers=0, persistent_workers=False,
    dataset=dict(data_root=data_root))
test_dataloader = dict(
    num_workers=0, persistent_workers=False,
    dataset=dict(data_root=data_root))
param_scheduler = []
train_cfg = dict(max_iters={iters}, val_begin={iters}, val_interval={iters})
default_hooks = dict(checkpoint=dict(interval={iters}),
                     logger=dict(interval=1))
"""


def scalars(work_dir):
    (path, ) = glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json'))
    with open(path) as f:
        return [json.loads(line) for line in f]


def change_fraction(data, split):
    labels = [
        np.asarray(Image.open(p)) > 0
        for p in glob.glob(osp.join(data, split, 'label', '*.png'))
    ]
    return float(np.mean(np.concatenate([x.ravel() for x in labels])))


def test_stanet_pam_learns_changes(synthetic_levircd, tmp_path):
    config = tmp_path / 'stanet.py'
    base = osp.join(
        REPO, 'configs/stanet/'
        'stanet-pam_r18_1xb8-1400iter_synthlevircd-64x64.py')
    config.write_text(
        f"_base_ = '{base}'\n" +
        textwrap.dedent(OVERRIDES.format(data=synthetic_levircd, iters=ITERS)))
    work_dir = tmp_path / 'work'
    run_tool('tools/train.py', config, '--work-dir', work_dir, '--cfg-options',
             f'randomness.seed={TRAIN_SEED}')

    records = scalars(work_dir)
    losses = [r['loss'] for r in records if 'loss' in r]
    k = len(losses) // 5
    assert np.mean(losses[-k:]) < 0.7 * np.mean(losses[:k]), losses
    (val, ) = [r for r in records if 'f1' in r]
    # Chance: calling every pixel changed gives F1 = 2p / (1 + p) for a
    # change fraction p (3.4% here, F1 6.6); after 60 iterations from
    # scratch the model must at least double that.
    p = change_fraction(synthetic_levircd, 'val')
    chance = 100 * 2 * p / (1 + p)
    assert val['f1'] > 2 * chance, (val, chance)
    checkpoint = work_dir / f'iter_{ITERS}.pth'
    assert checkpoint.is_file()

    result = run_tool('tools/test.py', config, checkpoint, '--work-dir',
                      tmp_path / 'test')
    for key in ('precision', 'recall', 'f1', 'iou', 'oa', 'kappa'):
        assert key in result.stdout + result.stderr
    panels = glob.glob(
        osp.join(tmp_path, '**', 'change_*.png'), recursive=True)
    assert panels, 'no change-map panels written'
