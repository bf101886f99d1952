"""BSDA-Net through tools/train.py and tools/test.py on generated OCTA-500-
style eyes: it has to learn both the FAZ and the diagnosis, not just run."""
import glob
import json
import os.path as osp
import textwrap

import numpy as np
from mmzoo_testing import REPO, TRAIN_SEED, run_tool
from PIL import Image

# At 15 epochs the diagnosis reached 53-65% on held-out eyes depending on
# the seed and thread count; at 25, 83-87% over seeds 0-3.
EPOCHS = 25

# The demo config (its model, batch 8 and Adam 1e-3) on the demo's set,
# for fewer epochs: the cross-entropy after 2 of 25 epochs (the official
# 60 of 500 shortened, so that the diagnosis trains for most of the run);
# tested on the 30 eyes of the val and test splits; no worker processes.
OVERRIDES = """
data_root = '{data}'
train_dataloader = dict(
    num_workers=0, persistent_workers=False,
    dataset=dict(data_root=data_root))
val_dataloader = dict(
    num_workers=0, persistent_workers=False,
    dataset=dict(data_root=data_root))
test_dataloader = dict(
    num_workers=0, persistent_workers=False,
    dataset=dict(data_root=data_root, subjects=(10091, 10120)))
train_cfg = dict(max_epochs={epochs}, val_interval={epochs})
default_hooks = dict(checkpoint=dict(interval={epochs}),
                     logger=dict(interval=4))
custom_hooks = [
    dict(type='mmzoo.RNGStateHook'),
    dict(type='mmzoo.ClsLossWarmupHook', start_epoch=2)
]
"""


def scalars(work_dir):
    (path, ) = glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json'))
    with open(path) as f:
        return [json.loads(line) for line in f]


def faz_fraction(data, first, last):
    masks = [
        np.asarray(Image.open(osp.join(data, 'Label', 'GT_FAZ', f'{i}.bmp')))
        > 0 for i in range(first, last + 1)
    ]
    return float(np.mean(masks))


def test_bsda_net_learns_faz_and_diagnosis(synthetic_octa, tmp_path):
    config = tmp_path / 'bsda.py'
    base = osp.join(
        REPO, 'configs/bsda/'
        'bsda-net_r18-w16_1xb8-60e_synthocta-96x96.py')
    config.write_text(
        f"_base_ = '{base}'\n" +
        textwrap.dedent(OVERRIDES.format(data=synthetic_octa, epochs=EPOCHS)))
    work_dir = tmp_path / 'work'
    run_tool('tools/train.py', config, '--work-dir', work_dir, '--cfg-options',
             f'randomness.seed={TRAIN_SEED}')

    records = [r for r in scalars(work_dir) if 'loss_mask' in r]
    # The classification loss joins after the warm-up epoch.
    assert 'loss_cls' not in records[0] and 'loss_cls' in records[-1]
    first, last = records[0]['loss_mask'], records[-1]['loss_mask']
    assert last < 0.5 * first, (first, last)
    checkpoint = work_dir / f'epoch_{EPOCHS}.pth'
    assert checkpoint.is_file()

    test_dir = tmp_path / 'test'
    run_tool('tools/test.py', config, checkpoint, '--work-dir', test_dir,
             '--show-dir', tmp_path / 'pictures')
    (path, ) = glob.glob(osp.join(test_dir, '*', '*.json'))
    with open(path) as f:
        metrics = json.load(f)
    # Chance: calling every pixel FAZ gives Dice 2p / (1 + p) for the FAZ
    # fraction p of the held-out eyes (about 5% here); guessing among the
    # three balanced diagnoses is right a third of the time, and 18 or more
    # of 30 right by guessing has a probability of 0.25%.
    p = faz_fraction(synthetic_octa, 10091, 10120)
    assert metrics['Dice'] > max(70, 3 * 100 * 2 * p / (1 + p)), metrics
    assert metrics['accuracy'] >= 60, metrics
    assert 0 < metrics['HD95'] < 1, metrics  # mm, in a 6 mm field
    pictures = glob.glob(
        osp.join(tmp_path, 'pictures', '**', '*.png'), recursive=True)
    assert len(pictures) == 30
