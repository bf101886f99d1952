"""T2Net against its own parts on the synthetic test split: zero filling +
bicubic interpolation, the two branches without task transformers, and T2Net,
trained alike.

    python benchmarks/t2net_quality.py [--data DIR] [--iters 600]
        [--seed 0] [--work-dir DIR]

Both models are the demo config's
(configs/t2net/t2net_edsr-c32b2_1xb8-600iter_synthixi-64x64.py), trained
from scratch through tools/train.py with the same schedule and seed, one
with ``model.with_transformer=False`` (the paper's ablation: the two
branches then never exchange features), and tested through tools/test.py.
The data are tools/dataset_converters/make_synthetic_mri.py's IXI layout
(generated into the work dir unless ``--data`` names a folder). PSNR, SSIM
and NMSE are per volume (fastMRI's definitions) and averaged over the test
volumes, for the SR output against the high-resolution slices.
"""
import argparse
import glob
import json
import os.path as osp
import subprocess
import sys
import tempfile
import time

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIG = osp.join(
    REPO, 'configs/t2net/t2net_edsr-c32b2_1xb8-600iter_synthixi-64x64.py')
VARIANTS = (('two branches, no task transformer', False), ('T2Net', True))


def run(*args):
    subprocess.run([sys.executable, *map(str, args)],
                   cwd=REPO,
                   check=True,
                   capture_output=True,
                   text=True)


def train_and_test(data, work_dir, with_transformer, iters, seed):
    options = [
        f'train_dataloader.dataset.data_root={data}',
        f'val_dataloader.dataset.data_root={data}',
        f'test_dataloader.dataset.data_root={data}',
        f'model.with_transformer={with_transformer}',
        f'train_cfg.max_iters={iters}', f'train_cfg.val_interval={iters}',
        f'default_hooks.checkpoint.interval={iters}',
        f'param_scheduler.0.milestones=[{int(0.8 * iters)}]',
        f'randomness.seed={seed}'
    ]
    run('tools/train.py', CONFIG, '--work-dir', work_dir, '--cfg-options',
        *options)
    run('tools/test.py', CONFIG, osp.join(work_dir, f'iter_{iters}.pth'),
        '--work-dir', osp.join(work_dir, 'test'), '--cfg-options', *options)
    (path, ) = glob.glob(osp.join(work_dir, 'test', '*', '*.json'))
    with open(path) as f:
        return json.load(f)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--data', help='synthetic IXI-layout folder')
    parser.add_argument('--iters', type=int, default=600)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--work-dir', default=None)
    args = parser.parse_args()
    work = args.work_dir or tempfile.mkdtemp(prefix='t2net_quality_')
    data = args.data
    if data is None:
        data = osp.join(work, 'data')
        run('tools/dataset_converters/make_synthetic_mri.py', data, '--layout',
            'ixi')
    rows = []
    for name, with_transformer in VARIANTS:
        start = time.time()
        metrics = train_and_test(data,
                                 osp.join(work, f'tt{int(with_transformer)}'),
                                 with_transformer, args.iters, args.seed)
        if not rows:
            rows.append(
                ('zero-filled + bicubic', metrics['zf_bicubic_psnr'],
                 metrics['zf_bicubic_ssim'], metrics['zf_bicubic_nmse'], 0.0))
        rows.append(
            (name, metrics['sr_psnr'], metrics['sr_ssim'], metrics['sr_nmse'],
             time.time() - start))
    print(f'SR (x2) on the synthetic test volumes, {args.iters} iterations, '
          f'seed {args.seed}:')
    print(f'  {"":36s} {"PSNR (dB)":>9s} {"SSIM":>7s} {"NMSE":>7s} '
          f'{"train+test":>10s}')
    for name, p, s, n, t in rows:
        print(f'  {name:36s} {p:9.2f} {s:7.4f} {n:7.4f} ' +
              (f'{t:9.0f}s' if t else f'{"":>10s}'))


if __name__ == '__main__':
    main()
