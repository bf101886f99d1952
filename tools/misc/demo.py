"""`make demo`: generate a small LEVIR-CD-style change-detection set, train
STANet-PAM on it from scratch, evaluate the checkpoint of the best val F1 on
its test split, and say where everything went.

Each run gets its own work dir, so earlier results are never overwritten.
"""
import glob
import json
import os
import os.path as osp
import shutil
import subprocess
import sys
import time

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = 'configs/stanet/stanet-pam_r18_1xb8-1400iter_synthlevircd-64x64.py'
DATA = 'data/synthetic_levircd'
# Pairs per split; the generator's layout is LEVIR-CD's.
SPLITS = dict(train=192, val=16, test=16)
METRICS = ('precision', 'recall', 'f1', 'iou', 'oa', 'kappa')


def run(*args):
    print('$', ' '.join(map(str, args)), flush=True)
    subprocess.run([sys.executable, *map(str, args)], cwd=REPO, check=True)


def latest(pattern):
    found = sorted(glob.glob(osp.join(REPO, pattern)), key=osp.getmtime)
    if not found:
        raise FileNotFoundError(f'expected {pattern} after the run')
    return found[-1]


def pair_counts(root):
    """Pairs per split of a generated set (its label maps)."""
    return {
        split: len(glob.glob(osp.join(root, split, 'label', '*.png')))
        for split in SPLITS
    }


def make_data():
    root = osp.join(REPO, DATA)
    found = pair_counts(root) if osp.isdir(root) else None
    if found == SPLITS:
        return
    if found is not None:
        # An earlier demo's set of other sizes: training on it would not be
        # the run that the README describes.
        print(f'{DATA} holds {found} pairs, the demo uses {SPLITS}: '
              'writing it again')
    # Generated aside and moved in whole: an interrupted run leaves no
    # half-written dataset behind for the next one to train on.
    partial = DATA + '.partial'
    shutil.rmtree(osp.join(REPO, partial), ignore_errors=True)
    counts = [
        arg for split, n in SPLITS.items() for arg in (f'--num-{split}', n)
    ]
    run('tools/dataset_converters/make_synthetic_levircd.py', partial,
        '--size', 256, *counts)
    shutil.rmtree(root, ignore_errors=True)
    os.replace(osp.join(REPO, partial), root)


def best_on_val(work_dir):
    """The checkpoint of the best val F1 and the validations' F1 by
    iteration."""
    checkpoint = latest(osp.join(work_dir, 'best_f1_iter_*.pth'))
    scalars = latest(osp.join(work_dir, '*', 'vis_data', 'scalars.json'))
    with open(scalars) as f:
        records = [json.loads(line) for line in f]
    val_f1 = {r['step']: r['f1'] for r in records if 'f1' in r}
    return checkpoint, val_f1


def main():
    start = time.time()
    make_data()
    work_dir = osp.join('work_dirs', 'demo-' + time.strftime('%Y%m%d-%H%M%S'))
    train_start = time.time()
    run('tools/train.py', CONFIG, '--work-dir', work_dir)
    train_time = time.time() - train_start
    # As the official training: the checkpoint of the best F1 on the val
    # split is the one evaluated; the test split chooses nothing.
    checkpoint, val_f1 = best_on_val(work_dir)
    best_iter = int(osp.splitext(checkpoint)[0].rsplit('_', 1)[1])
    test_dir = osp.join(work_dir, 'test')
    test_start = time.time()
    run('tools/test.py', CONFIG, checkpoint, '--work-dir', test_dir,
        '--cfg-options', f'custom_hooks.1.num_pairs={SPLITS["test"]}')
    test_time = time.time() - test_start

    with open(latest(osp.join(test_dir, '*', '*.json'))) as f:
        metrics = json.load(f)
    panels = sorted(
        glob.glob(
            osp.join(REPO, test_dir, '*', 'vis_data', 'vis_image',
                     'change_*.png')))
    print('\n' + '=' * 72)
    print(f'mmzoo demo finished in {time.time() - start:.0f} s (training '
          f'{train_time:.0f} s, test {test_time:.0f} s)')
    print(f'STANet-PAM on the {SPLITS["test"]} generated test pairs '
          '(change class, percent):')
    for key in METRICS:
        print(f'  {key:>9}: {metrics[key]:.2f}')
    print(f'checkpoint : {checkpoint} (best val F1 {val_f1[best_iter]:.2f} '
          f'of the validations at iterations '
          f'{", ".join(map(str, sorted(val_f1)))})')
    print(f'train log  : {latest(osp.join(work_dir, "*", "*.log"))}')
    print(f'test log   : {latest(osp.join(test_dir, "*", "*.log"))}')
    if panels:
        print(f'change maps: {osp.dirname(panels[0])} ({len(panels)} '
              'panels: A | B | label | prediction | distance | overlay)')
        for path in panels[:3]:
            print(f'  {path}')
    print('=' * 72)


if __name__ == '__main__':
    main()
