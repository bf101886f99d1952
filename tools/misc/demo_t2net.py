"""`make demo-t2net`: generate small IXI-style MRI volumes, train T2Net on them
from scratch, evaluate on the test volumes against the zero-filled + bicubic
baseline, and say where everything went.

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
CONFIG = 'configs/t2net/t2net_edsr-c32b2_1xb8-600iter_synthixi-64x64.py'
DATA = 'data/synthetic_ixi'
ROWS = (('zero-filled + bicubic (x2)', 'zf_bicubic'), ('T2Net SR (x2)', 'sr'),
        ('zero-filled (LR)', 'zf'), ('T2Net reconstruction (LR)', 'recon'))


def run(*args):
    print('$', ' '.join(map(str, args)), flush=True)
    subprocess.run([sys.executable, *map(str, args)], cwd=REPO, check=True)


def latest(pattern):
    found = sorted(glob.glob(osp.join(REPO, pattern)), key=osp.getmtime)
    if not found:
        raise FileNotFoundError(f'expected {pattern} after the run')
    return found[-1]


def make_data():
    if osp.isdir(osp.join(REPO, DATA)):
        return
    # Generated aside and moved in whole: an interrupted run leaves no
    # half-written dataset behind for the next one to train on.
    partial = DATA + '.partial'
    shutil.rmtree(osp.join(REPO, partial), ignore_errors=True)
    run('tools/dataset_converters/make_synthetic_mri.py', partial, '--layout',
        'ixi')
    os.replace(osp.join(REPO, partial), osp.join(REPO, DATA))


def table(metrics):
    lines = [
        f'  {"":28s} {"PSNR (dB)":>10s} {"SSIM":>8s} {"NMSE":>8s}',
    ]
    for name, key in ROWS:
        lines.append(f'  {name:28s} {metrics[key + "_psnr"]:10.2f} '
                     f'{metrics[key + "_ssim"]:8.4f} '
                     f'{metrics[key + "_nmse"]:8.4f}')
    return '\n'.join(lines)


def main():
    start = time.time()
    make_data()
    work_dir = osp.join('work_dirs',
                        'demo-t2net-' + time.strftime('%Y%m%d-%H%M%S'))
    run('tools/train.py', CONFIG, '--work-dir', work_dir)
    checkpoint = latest(osp.join(work_dir, 'iter_*.pth'))
    test_dir = osp.join(work_dir, 'test')
    panels = osp.join(work_dir, 'panels')
    run('tools/test.py', CONFIG, checkpoint, '--work-dir', test_dir,
        '--show-dir', panels)
    with open(latest(osp.join(test_dir, '*', '*.json'))) as f:
        metrics = json.load(f)
    pictures = sorted(glob.glob(osp.join(REPO, panels, '*.png')))
    print('\n' + '=' * 72)
    print(f'mmzoo T2Net demo finished in {time.time() - start:.0f} s')
    print('On the generated test volumes (per volume, then averaged; '
          "fastMRI's definitions):")
    print(table(metrics))
    print(f'checkpoint : {checkpoint}')
    print(f'train log  : {latest(osp.join(work_dir, "*", "*.log"))}')
    print(f'test log   : {latest(osp.join(test_dir, "*", "*.log"))}')
    if pictures:
        print(f'panels     : {osp.dirname(pictures[0])} ({len(pictures)} '
              'slices: zero-filled | reconstruction | SR | ground truth | '
              'error)')
    print('=' * 72)


if __name__ == '__main__':
    main()
