"""`make demo`: generate a small ADE20K-layout dataset, train UperNet with a
Res2Net-50 backbone on it, evaluate, and say where everything went.

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
CONFIG = 'configs/res2net/upernet_res2net50-26w4s_1xb4-500iter_synthade20k-96x96.py'
DATA = 'data/synthetic_ade20k'


def run(*args):
    print('$', ' '.join(map(str, args)), flush=True)
    subprocess.run([sys.executable, *map(str, args)], cwd=REPO, check=True)


def latest(pattern):
    found = sorted(glob.glob(osp.join(REPO, pattern)), key=osp.getmtime)
    if not found:
        raise FileNotFoundError(f'expected {pattern} after the run')
    return found[-1]


def main():
    start = time.time()
    if not osp.isdir(osp.join(REPO, DATA)):
        # Generated aside and moved in whole: an interrupted run leaves no
        # half-written dataset behind for the next one to train on.
        partial = DATA + '.partial'
        shutil.rmtree(osp.join(REPO, partial), ignore_errors=True)
        run('tools/dataset_converters/make_synthetic_ade20k.py', partial,
            '--num-train', 160, '--num-val', 20, '--size', 128)
        os.replace(osp.join(REPO, partial), osp.join(REPO, DATA))
    work_dir = osp.join('work_dirs', 'demo-' + time.strftime('%Y%m%d-%H%M%S'))
    run('tools/train.py', CONFIG, '--work-dir', work_dir)
    checkpoint = latest(osp.join(work_dir, 'iter_*.pth'))
    pictures = osp.join(work_dir, 'predictions')
    run('tools/test.py', CONFIG, checkpoint, '--work-dir',
        osp.join(work_dir, 'test'), '--show-dir', pictures)

    metrics_file = latest(osp.join(work_dir, 'test', '*', '*.json'))
    with open(metrics_file) as f:
        metrics = json.load(f)
    print('\n' + '=' * 72)
    print(f'mmzoo demo finished in {time.time() - start:.0f} s')
    print('validation metrics on the generated ADE20K-layout scenes:')
    for key, value in metrics.items():
        if key not in ('data_time', 'time'):
            print(f'  {key:>5}: {value:.2f}')
    print(f'checkpoint : {checkpoint}')
    print(f'train log  : {latest(osp.join(work_dir, "*", "*.log"))}')
    print(f'test log   : {latest(osp.join(work_dir, "test", "*", "*.log"))}')
    print(f'pictures   : {osp.join(REPO, pictures, "vis_data", "vis_image")}'
          ' (ground truth | prediction, drawn over each image)')
    print('=' * 72)


if __name__ == '__main__':
    main()
