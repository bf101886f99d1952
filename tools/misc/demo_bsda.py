"""`make demo-bsda`: generate small OCTA-500-style eyes, train BSDA-Net on them
from scratch, evaluate on their test split, and say where everything went.

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
CONFIG = 'configs/bsda/bsda-net_r18-w16_1xb8-60e_synthocta-96x96.py'
DATA = 'data/synthetic_octa'
# The demo config's split: 90/15/15 subjects of 96x96.
SUBJECTS = 120
SIZE = 96
SEGMENTATION = (('Dice', '%'), ('Jaccard', '%'), ('HD95', 'mm'), ('ASSD',
                                                                  'mm'))
DIAGNOSIS = ('accuracy', 'kappa')


def run(*args):
    print('$', ' '.join(map(str, args)), flush=True)
    subprocess.run([sys.executable, *map(str, args)], cwd=REPO, check=True)


def latest(pattern):
    found = sorted(glob.glob(osp.join(REPO, pattern)), key=osp.getmtime)
    if not found:
        raise FileNotFoundError(f'expected {pattern} after the run')
    return found[-1]


def make_data():
    last = osp.join(REPO, DATA, 'Label', 'GT_FAZ', f'{10000 + SUBJECTS}.bmp')
    if osp.isfile(last):
        return
    if osp.isdir(osp.join(REPO, DATA)):
        # A smaller set of the generator's defaults: the demo's split needs
        # all 120 subjects.
        print(f'{DATA} has fewer than {SUBJECTS} subjects; generating it anew')
    # Generated aside and moved in whole: an interrupted run leaves no
    # half-written dataset behind for the next one to train on.
    partial = DATA + '.partial'
    shutil.rmtree(osp.join(REPO, partial), ignore_errors=True)
    run('tools/dataset_converters/make_synthetic_octa.py', partial,
        '--num-6mm', SUBJECTS, '--num-3mm', 0, '--size', SIZE)
    shutil.rmtree(osp.join(REPO, DATA), ignore_errors=True)
    os.replace(osp.join(REPO, partial), osp.join(REPO, DATA))


def main():
    start = time.time()
    make_data()
    work_dir = osp.join('work_dirs',
                        'demo-bsda-' + time.strftime('%Y%m%d-%H%M%S'))
    run('tools/train.py', CONFIG, '--work-dir', work_dir)
    checkpoint = latest(osp.join(work_dir, 'epoch_*.pth'))
    test_dir = osp.join(work_dir, 'test')
    picture_dir = osp.join(work_dir, 'pictures')
    run('tools/test.py', CONFIG, checkpoint, '--work-dir', test_dir,
        '--show-dir', picture_dir)

    with open(latest(osp.join(test_dir, '*', '*.json'))) as f:
        metrics = json.load(f)
    pictures = sorted(
        glob.glob(osp.join(REPO, picture_dir, '**', '*.png'), recursive=True))
    print('\n' + '=' * 72)
    print(f'mmzoo BSDA-Net demo finished in {time.time() - start:.0f} s')
    print('BSDA-Net on the 15 generated test eyes (6 mm, 96x96):')
    for key, unit in SEGMENTATION:
        print(f'  FAZ {key:>8}: {metrics[key]:.2f} {unit}')
    for key in DIAGNOSIS:
        print(f'  diagnosis {key:>8}: {metrics[key]:.2f} %')
    for key, value in metrics.items():
        if key.startswith(('precision_', 'recall_')):
            print(f'  {key:>18}: {value:.2f} %')
    if 'confusion_matrix' in metrics:
        print('  confusion matrix (rows true, columns predicted; '
              'NORMAL, DR, AMD):')
        for row in metrics['confusion_matrix']:
            print('    ' + ' '.join(f'{n:3d}' for n in row))
    print(f'checkpoint : {checkpoint}')
    print(f'train log  : {latest(osp.join(work_dir, "*", "*.log"))}')
    print(f'test log   : {latest(osp.join(test_dir, "*", "*.log"))}')
    if pictures:
        print(f'pictures   : {osp.dirname(pictures[0])} ({len(pictures)}: '
              'FAZ contours | heatmap | distance map, diagnosis in the '
              'title)')
    print('=' * 72)


if __name__ == '__main__':
    main()
