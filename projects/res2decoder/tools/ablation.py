"""Run the res2decoder ablation grid and write its table into the README.

Every segmentation head trains with the same backbone, data and schedule on
the generated scale set (``make_scale_seg.py``), every change-detection neck
on the generated LEVIR-CD pairs, each for several seeds. The table gives the
validation mIoU (segmentation) or the change class's F1 (change detection)
as mean ± sample standard deviation over the seeds, the parameters of the
head (or neck) and of the whole model, the multiply-accumulates of one
forward pass counted by ``mmengine.analysis`` (fvcore's convention: one
multiply-add is one FLOP) and the CPU throughput of that forward pass. The
table replaces what lies between the two markers of the README.

``--quick`` runs every row once for one iteration on a handful of tiny
images: it checks the pipeline, and its numbers mean nothing.
"""
import argparse
import datetime
import importlib.util
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from mmengine.analysis import FlopAnalyzer
from mmengine.config import Config
from mmengine.runner import Runner
from tqdm import tqdm

PROJECT = Path(__file__).resolve().parents[1]
REPO = PROJECT.parents[1]
if str(REPO) not in sys.path:
    # The configs import ``projects.res2decoder.res2decoder``.
    sys.path.insert(0, str(REPO))

from mmzoo.utils.fileio import atomic_write_bytes  # noqa: E402

sys.path.insert(0, str(PROJECT / 'tools'))
import make_scale_seg  # noqa: E402

START = '<!-- ablation-table:start -->'
END = '<!-- ablation-table:end -->'
SEG = 'r18-w32-d8_1xb8-500iter_scaleseg-64x64'
CD = 'r18_1xb8-300iter_synthlevircd-64x64'
# (task, row name, config name). Changing a row here changes the table.
ROWS = (
    ('seg', 'FCNHead', f'fcn_{SEG}'),
    ('seg', 'ASPPHead', f'aspp_{SEG}'),
    ('seg', 'UPerHead', f'upernet_{SEG}'),
    ('seg', 'Res2Head 64w2s', f'res2head-64w2s_{SEG}'),
    ('seg', 'Res2Head 32w4s', f'res2head-32w4s_{SEG}'),
    ('seg', 'Res2Head 16w8s', f'res2head-16w8s_{SEG}'),
    ('seg', 'Res2Head 64w4s4g (Res2NeXt)', f'res2nexthead-64w4s4g_{SEG}'),
    ('seg', 'Res2Head 32w4s, attention', f'res2head-attn-32w4s_{SEG}'),
    ('cd', 'STANetFPN', f'stanet-base_{CD}'),
    ('cd', 'Res2STANetFPN 26w4s', f'res2stanet-base-26w4s_{CD}'),
    ('cd', 'Res2STANetFPN 26w4s, attention',
     f'res2stanet-base-attn-26w4s_{CD}'),
)
METRIC = dict(seg=('mIoU', 'mIoU (%)'), cd=('f1', 'F1 (%)'))
QUICK = dict(iters=1, batch=2, seeds=(0, ), throughput=(1, 1))


def generate_data(seg_root: Path, cd_root: Path, tasks: set,
                  quick: bool) -> None:
    """Write the generated sets of ``tasks`` where they are missing."""
    if 'seg' in tasks and not seg_root.is_dir():
        counts = (4, 2) if quick else (96, 32)
        make_scale_seg.generate(
            seg_root, size=64, num_train=counts[0], num_val=counts[1])
    if 'cd' in tasks and not cd_root.is_dir():
        path = REPO / 'tools' / 'dataset_converters' / \
            'make_synthetic_levircd.py'
        spec = importlib.util.spec_from_file_location('levircd_gen', path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        # The grid's pairs, written out rather than left to the generator's
        # defaults, so that the experiment keeps its data.
        sizes = [
            '--size', '64', '--num-train', '4', '--num-val', '1', '--num-test',
            '1'
        ] if quick else [
            '--size', '256', '--num-train', '48', '--num-val', '8',
            '--num-test', '16'
        ]
        module.main([str(cd_root), *sizes])


def load_config(name: str, seed: int, work_dir: Path, data_root: Path,
                quick: bool) -> Config:
    """The row's config, set for one seeded run without checkpoints."""
    cfg = Config.fromfile(PROJECT / 'configs' / f'{name}.py')
    cfg.work_dir = str(work_dir)
    cfg.randomness = dict(seed=seed, deterministic=False)
    cfg.launcher = 'none'
    cfg.log_level = 'WARNING'
    cfg.default_hooks.checkpoint = None
    cfg.default_hooks.pop('visualization', None)
    max_iters = QUICK['iters'] if quick else cfg.train_cfg.max_iters
    # Validation once, after training, by run(): not inside the loop.
    cfg.train_cfg.max_iters = max_iters
    cfg.train_cfg.val_interval = max_iters + 1
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].dataset.data_root = str(data_root)
        if quick:
            cfg[loader].num_workers = 0
            cfg[loader].persistent_workers = False
    if quick:
        cfg.train_dataloader.batch_size = QUICK['batch']
        cfg.default_hooks.logger.interval = 1
    return cfg


def run(cfg: Config, metric: str):
    """Train, validate, and return the validation ``metric`` and the trained
    model."""
    runner = Runner.from_cfg(cfg)
    runner.train()
    return float(runner.val()[metric]), runner.model


def complexity(model: torch.nn.Module, part: str, channels: int, size: int,
               throughput: tuple) -> dict:
    """Parameters, FLOPs (multiply-adds) and CPU images/s of the forward pass
    of ``size`` square images with ``channels`` channels; ``throughput`` is
    (batch, passes): images/s is the best of ``passes`` passes of ``batch``
    images, after one warm-up pass when ``passes > 1``."""
    model.eval()
    inputs = torch.randn(1, channels, size, size)
    with torch.no_grad():
        analyzer = FlopAnalyzer(model, (inputs, ))
        analyzer.unsupported_ops_warnings(False)
        analyzer.uncalled_modules_warnings(False)
        flops = analyzer.total()
        batch, passes = throughput
        images = torch.randn(batch, channels, size, size)
        if passes > 1:
            model(images)
        seconds = []
        for _ in range(passes):
            start = time.perf_counter()
            model(images)
            seconds.append(time.perf_counter() - start)
    return dict(
        part_params=sum(p.numel() for p in getattr(model, part).parameters()),
        params=sum(p.numel() for p in model.parameters()),
        flops=flops,
        images_per_s=batch / min(seconds))


def mean_std(values) -> str:
    values = np.asarray(values, float)
    if len(values) < 2:
        return f'{values.mean():.2f}'
    return f'{values.mean():.2f} ± {values.std(ddof=1):.2f}'


def format_table(results: list, settings: str) -> str:
    """Markdown tables, one per task, from the rows' results."""
    lines = [settings, '']
    for task, part in (('seg', 'head'), ('cd', 'neck')):
        rows = [r for r in results if r['task'] == task]
        if not rows:
            continue
        lines += [
            f'| {part} | {METRIC[task][1]} | seeds | {part} params (M) '
            '| model params (M) | GFLOPs | CPU img/s |',
            '|---|---|---|---|---|---|---|',
        ]
        for r in rows:
            lines.append(
                f"| {r['name']} | {mean_std(r['scores'])} | "
                f"{len(r['scores'])} | {r['part_params'] / 1e6:.3f} | "
                f"{r['params'] / 1e6:.3f} | {r['flops'] / 1e9:.3f} | "
                f"{r['images_per_s']:.1f} |")
        lines.append('')
    return '\n'.join(lines).rstrip() + '\n'


def write_readme(readme: Path, table: str) -> None:
    """Replace what lies between the markers of ``readme`` by ``table``."""
    text = readme.read_text(encoding='utf-8')
    if text.count(START) != 1 or text.count(END) != 1 or \
            text.index(START) > text.index(END):
        raise ValueError(f'{readme} must hold {START} once, followed by '
                         f'{END} once')
    head, rest = text.split(START)
    _, tail = rest.split(END)
    atomic_write_bytes(f'{head}{START}\n{table}{END}{tail}'.encode('utf-8'),
                       readme)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        '--quick',
        action='store_true',
        help='every row once, 1 iteration on tiny generated sets in a '
        'temporary folder: checks the pipeline; the numbers mean nothing')
    parser.add_argument(
        '--seeds',
        type=int,
        nargs='+',
        default=[0, 1, 2],
        help='training seeds of every row')
    parser.add_argument(
        '--readme',
        type=Path,
        default=PROJECT / 'README.md',
        help='README whose table to replace')
    parser.add_argument(
        '--work-dir',
        type=Path,
        default=REPO / 'work_dirs' / 'res2decoder_ablation',
        help='logs and results.json')
    parser.add_argument(
        '--seg-root',
        type=Path,
        default=REPO / 'data' / 'scaleseg',
        help='the generated scale set, written here when missing')
    parser.add_argument(
        '--cd-root',
        type=Path,
        default=REPO / 'data' / 'res2decoder_levircd',
        help='the generated LEVIR-CD pairs (48/8/16 of 256x256), written '
        'here when missing')
    parser.add_argument(
        '--rows',
        nargs='+',
        metavar='CONFIG',
        help='run only these configs (names in projects/res2decoder/configs '
        'without .py); default: the whole grid')
    args = parser.parse_args(argv)
    if not args.readme.is_file():
        parser.error(f'--readme {args.readme} is not a file')
    rows = ROWS
    if args.rows:
        known = [config for _, _, config in ROWS]
        unknown = sorted(set(args.rows) - set(known))
        if unknown:
            parser.error(f'--rows: unknown {unknown}; the grid holds {known}')
        rows = [row for row in ROWS if row[2] in args.rows]

    with tempfile.TemporaryDirectory() as tmp:
        if args.quick:
            args.work_dir = Path(tmp) / 'work'
            args.seg_root = Path(tmp) / 'scaleseg'
            args.cd_root = Path(tmp) / 'levircd'
            args.seeds = list(QUICK['seeds'])
        generate_data(args.seg_root, args.cd_root,
                      {task
                       for task, _, _ in rows}, args.quick)
        throughput = QUICK['throughput'] if args.quick else (8, 3)
        results = []
        runs = [(row, seed) for row in rows for seed in args.seeds]
        bar = tqdm(runs, desc='ablation', unit='run', file=sys.stdout)
        for (task, name, config), seed in bar:
            bar.set_postfix_str(f'{name}, seed {seed}')
            root = args.seg_root if task == 'seg' else args.cd_root
            cfg = load_config(config, seed,
                              args.work_dir / config / f'seed{seed}', root,
                              args.quick)
            score, model = run(cfg, METRIC[task][0])
            if not results or results[-1]['config'] != config:
                size = cfg.crop_size[0]
                channels = 3 if task == 'seg' else 6
                part = 'decode_head' if task == 'seg' else 'neck'
                results.append(
                    dict(
                        task=task,
                        name=name,
                        config=config,
                        scores=[],
                        **complexity(model, part, channels, size, throughput)))
            results[-1]['scores'].append(score)
        bar.close()
        atomic_write_bytes(
            json.dumps(results, indent=1).encode('utf-8'),
            args.work_dir / 'results.json')

    settings = (
        f'Generated by `projects/res2decoder/tools/ablation.py'
        f"{' --quick' if args.quick else ''}` on "
        f'{datetime.date.today().isoformat()}, seeds '
        f"{', '.join(map(str, args.seeds))}; torch "
        f'{torch.__version__}, {torch.get_num_threads()} CPU thread(s) '
        f'({platform.processor() or platform.machine()}). GFLOPs: one '
        'forward pass of a 64x64 image (6 channels for change detection, '
        f'both dates); CPU img/s: the best of {throughput[1]} forward '
        f'pass(es) of {throughput[0]} such images.')
    if args.quick:
        settings = ('**Quick run (1 iteration, tiny data): these numbers '
                    'check the pipeline and mean nothing.** ' + settings)
    write_readme(args.readme, format_table(results, settings))
    print(f'Wrote the table of {len(results)} rows into {args.readme}')


if __name__ == '__main__':
    main()
