"""The table users pick a backbone from: every mmzoo ImageNet classifier beside
the same architecture built from mmpretrain.

For each ``configs/*/*_in1k.py`` it builds the classifier the config builds
and, where mmpretrain 1.x has the architecture, the same ImageClassifier
with mmpretrain's backbone. It reports parameters, MACs at 224x224 (counted
by mmengine's FlopAnalyzer), CPU throughput and peak inference memory, with
the ratios ours/mmpretrain, prints the table and writes it, with the machine
it ran on, to ``docs/en/benchmarks/backbones.md``. The measurements behind
the page are kept beside it as ``backbones.json``, so that ``--update``
can measure one new family and keep the rows of earlier runs. The page
checks the throughput ratio the project promises, read from
``docs/en/benchmarks/backbones_goal.yml``.

    python tools/analysis_tools/backbone_table.py [--only PATTERN]
        [--repeats N] [--batch B] [--skip-speed] [--out PATH] [--update]
        [--render-only]

    --only PATTERN  keep the configs whose file name contains PATTERN
    --repeats N     timed forwards per model, after warm-up (default 5)
    --batch B       images per forward (default 8)
    --skip-speed    parameters and MACs only (seconds, not minutes)
    --out PATH      where the Markdown goes (default the docs page above)
    --update        replace only the measured rows of the page at --out;
                    each row keeps the run (machine, load) it came from
    --render-only   measure nothing: write the page at --out again from
                    its record (after the goal or the tool's wording changed)

The full run takes 15-25 minutes on two CPU cores. The measuring, the
comparison with mmpretrain and the page live in
``mmzoo.analysis.backbone_table``; this script parses the command line and
runs them.
"""
import argparse
import datetime
import gc
import os.path as osp
import shlex
import sys
from typing import Callable, List, Optional, Tuple

import torch
from mmengine.registry import init_default_scope
from rich.console import Console
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                           TimeElapsedColumn, TimeRemainingColumn)

from mmzoo.analysis.backbone_table import compare, measure, record, render
from mmzoo.utils.fileio import atomic_write_bytes

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SCRIPT = osp.relpath(osp.abspath(__file__), REPO)
DEFAULT_OUT = osp.join('docs', 'en', 'benchmarks', 'backbones.md')
GOAL_FILE = osp.join('docs', 'en', 'benchmarks', 'backbones_goal.yml')
# The rows behind a page, and the runs that measured them.
Record = Tuple[List[record.Row], List[record.Run]]


def check_configs(configs: List[str]) -> None:
    """Resolve every backbone before measuring, so that a config that is broken
    or half-written fails in seconds rather than minutes into a run."""
    for config in configs:
        try:
            compare.backbone_class(measure.load_model_cfg(config)['backbone'])
        except Exception as error:
            raise SystemExit(f'{osp.relpath(config, REPO)}: {error}')


def steps_per_row(args) -> int:
    # complexity, then warm-up + repeats forward pairs, then two workers
    return 1 if args.skip_speed else 1 + measure.WARMUP + args.repeats + 2


def measure_row(config: str, args, step: Callable[[], None]) -> record.Row:
    model_cfg = measure.load_model_cfg(config)
    theirs_cfg, note = compare.baseline_model_cfg(model_cfg)
    notes = [note] if note else []
    models = [measure.build(model_cfg)]
    if theirs_cfg is not None:
        models.append(measure.build(theirs_cfg))
    measures = [
        measure.Measures(measure.count_params(m), measure.count_macs(m))
        for m in models
    ]
    step()
    if not args.skip_speed:
        timed = measure.time_interleaved(models, args.batch, args.repeats,
                                         step)
        for m, seconds in zip(measures, timed):
            m.seconds = seconds
        del models
        gc.collect()
        for m, cfg in zip(measures, [model_cfg, theirs_cfg]):
            m.peak_mib = measure.peak_memory_mib(cfg, args.batch)
            step()
        if len(measures) == 1:
            step()  # the baseline's worker that did not run
    ours = measures[0]
    theirs = measures[1] if len(measures) > 1 else None
    if theirs is not None:
        notes += compare.architecture_notes(ours, theirs)
    return record.Row(
        measure.variant_name(config), config, ours, theirs, notes)


def measure_all(configs: List[str], args) -> List[record.Row]:
    console = Console(stderr=True)
    rows = []
    with Progress(
            TextColumn('{task.description:<28}'),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console) as progress:
        task = progress.add_task(
            'measuring', total=len(configs) * steps_per_row(args))
        for config in configs:
            progress.update(task, description=measure.variant_name(config))
            rows.append(
                measure_row(config, args, lambda: progress.advance(task)))
            if not console.is_terminal:
                # A redirected log gets no live bar; say where the run is.
                console.print(f'measured {measure.variant_name(config)} '
                              f'({len(rows)}/{len(configs)})')
    return rows


def read_record(doc_path: str, flag: str) -> Record:
    """The rows and runs behind the page that ``flag`` builds on."""
    path = record.record_path(doc_path)
    if not osp.isfile(path):
        raise SystemExit(f'{flag}: {path} does not exist; run the tool once '
                         f'without {flag} to create the page.')
    try:
        return record.load_record(path)
    except ValueError as error:
        raise SystemExit(str(error))


def check_same_settings(runs: List[record.Run], args, doc_path: str) -> None:
    """Rows measured with other settings would not be comparable: check before
    anything is measured."""
    first = runs[0]
    if (first.batch, first.repeats, first.speed) != \
            (args.batch, args.repeats, not args.skip_speed):
        raise SystemExit(
            f'--update: {record.record_path(doc_path)} was measured with '
            f'--batch {first.batch} --repeats {first.repeats}'
            f'{"" if first.speed else " --skip-speed"}; use the same.')


def throughput_goal() -> float:
    try:
        return compare.load_throughput_goal(osp.join(REPO, GOAL_FILE))
    except (OSError, ValueError) as error:
        raise SystemExit(str(error))


def write_outputs(rows: List[record.Row],
                  runs: List[record.Run],
                  goal: float,
                  out: str,
                  with_record: bool = True) -> None:
    doc = render.render_doc(
        rows, runs, goal, SCRIPT,
        measure.unconfigured_backbones(measure.find_configs(REPO)))
    atomic_write_bytes(doc.encode(), out)
    if with_record:
        record.save_record(rows, runs, record.record_path(out))


def minutes_since(started: datetime.datetime) -> float:
    now = datetime.datetime.now(datetime.timezone.utc)
    return (now - started).total_seconds() / 60


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Compare every mmzoo ImageNet backbone with mmpretrain.')
    parser.add_argument(
        '--only',
        metavar='PATTERN',
        help='keep configs whose file name contains PATTERN')
    parser.add_argument(
        '--repeats',
        type=int,
        default=5,
        help='timed forwards per model (default 5)')
    parser.add_argument(
        '--batch', type=int, default=8, help='images per forward (default 8)')
    parser.add_argument(
        '--skip-speed', action='store_true', help='parameters and MACs only')
    parser.add_argument(
        '--out',
        help=f'Markdown output (default {DEFAULT_OUT} in the repository)')
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        '--update',
        action='store_true',
        help='keep the rows of the page at --out that this run does not '
        'measure')
    mode.add_argument(
        '--render-only',
        action='store_true',
        help='measure nothing: write the page at --out again from the '
        'record beside it')
    args = parser.parse_args(argv)
    if args.repeats < 1 or args.batch < 1:
        parser.error('--repeats and --batch must be at least 1')
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    out = osp.abspath(args.out) if args.out else osp.join(REPO, DEFAULT_OUT)
    goal = throughput_goal()
    if args.render_only:
        rows, runs = read_record(out, '--render-only')
        write_outputs(rows, runs, goal, out, with_record=False)
        print(f'wrote {out} from {osp.basename(record.record_path(out))}')
        return 0
    started = datetime.datetime.now(datetime.timezone.utc)
    load_at_start = measure.load_average()
    command = shlex.join(['python', SCRIPT, *sys.argv[1:]])
    configs = measure.find_configs(REPO, args.only)
    if not configs:
        print(f'no configs/*/*_in1k.py matches {args.only!r}', file=sys.stderr)
        return 1
    kept: Optional[Record] = None
    if args.update:
        kept = read_record(out, '--update')
        check_same_settings(kept[1], args, out)
    torch.set_flush_denormal(True)
    init_default_scope('mmzoo')
    check_configs(configs)
    rows = measure_all(configs, args)
    speed = not args.skip_speed
    print(
        render.format_table(rows, args.batch, speed),
        '',
        *render.goal_lines(rows, args.batch, speed, goal),
        sep='\n')
    run = record.Run(
        command=command,
        started=started.strftime('%Y-%m-%d %H:%M UTC'),
        minutes=round(minutes_since(started), 1),
        machine=measure.machine_lines(load_at_start),
        batch=args.batch,
        repeats=args.repeats,
        speed=speed)
    runs = [run]
    if kept is not None:
        rows, runs = record.merge_with_record(rows, run, *kept)
    write_outputs(rows, runs, goal, out)
    print(f'\nwrote {out} and {osp.basename(record.record_path(out))}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
