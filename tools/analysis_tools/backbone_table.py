"""The table users pick a backbone from: every mmzoo ImageNet classifier
beside the same architecture built from mmpretrain.

For each ``configs/*/*_in1k.py`` it builds the classifier the config builds
and, where mmpretrain 1.x has the architecture, the same ImageClassifier
with mmpretrain's backbone. It reports parameters, MACs at 224x224 (counted
by mmengine's FlopAnalyzer), CPU throughput and peak inference memory, with
the ratios ours/mmpretrain, prints the table and writes it, with the machine
it ran on, to ``docs/en/benchmarks/backbones.md``. The measurements behind
the page are kept beside it as ``backbones.json``, so that ``--update``
can measure one new family and keep the rows of earlier runs.

    python tools/analysis_tools/backbone_table.py [--only PATTERN]
        [--repeats N] [--batch B] [--skip-speed] [--out PATH] [--update]

    --only PATTERN  keep the configs whose file name contains PATTERN
    --repeats N     timed forwards per model, after warm-up (default 5)
    --batch B       images per forward (default 8)
    --skip-speed    parameters and MACs only (seconds, not minutes)
    --out PATH      where the Markdown goes (default the docs page above)
    --update        replace only the measured rows of the page at --out;
                    each row keeps the run (machine, load) it came from

The full run takes 15-25 minutes on two CPU cores.
"""
import argparse
import copy
import datetime
import gc
import glob
import inspect
import json
import os
import os.path as osp
import platform
import re
import shlex
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Callable, Dict, List, Optional, Tuple

import torch
from mmengine.analysis import FlopAnalyzer
from mmengine.config import Config
from mmengine.registry import init_default_scope
from rich.console import Console
from rich.progress import (BarColumn, MofNCompleteColumn, Progress,
                           TextColumn, TimeElapsedColumn,
                           TimeRemainingColumn)

import mmzoo.models  # noqa: F401  (registers our backbones)
from mmzoo.ops import WINDOW_ATTENTION_OPS, window_attention_flop_jit
from mmzoo.registry import MODELS
from mmzoo.utils.fileio import atomic_write_bytes

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SCRIPT = osp.relpath(osp.abspath(__file__), REPO)
DEFAULT_OUT = osp.join('docs', 'en', 'benchmarks', 'backbones.md')
IMAGE = (3, 224, 224)
# The first forward creates oneDNN primitives and grows the allocator; the
# second is already steady, so two warm-ups keep the repeats comparable.
WARMUP = 2
GOAL = 1.0  # throughput ratio ours/mmpretrain the project promises
# glibc serves allocations above this size with mmap and returns them to the
# OS on free, so the memory worker's RSS follows the live tensors.
MMAP_THRESHOLD = 64 * 1024


# --------------------------------------------------------------------------
# Which models to measure
# --------------------------------------------------------------------------

def find_configs(only: Optional[str]) -> List[str]:
    """Every ImageNet config, so that a new family joins by adding one."""
    paths = sorted(glob.glob(osp.join(REPO, 'configs', '*', '*_in1k.py')),
                   key=natural_key)
    if only:
        paths = [p for p in paths if only in osp.basename(p)]
    return paths


def natural_key(path: str) -> list:
    """Depth order: resnest50 before resnest101."""
    return [int(part) if part.isdigit() else part
            for part in re.split(r'(\d+)', path)]


def variant_name(config: str) -> str:
    """``res2net50-26w4s_8xb32_in1k.py`` -> ``res2net50-26w4s``."""
    return osp.basename(config).split('_')[0]


def load_model_cfg(config: str) -> dict:
    """The config's model without pretrained weights: they cannot be
    downloaded here, and the weights' values do not change the counts."""
    model = Config.fromfile(config).model.to_dict()
    model['backbone'].pop('init_cfg', None)
    model['backbone'].pop('pretrained', None)
    return model


def build(model_cfg: dict) -> torch.nn.Module:
    return MODELS.build(copy.deepcopy(model_cfg)).eval()


def backbone_class(backbone_cfg: dict) -> type:
    name = backbone_cfg['type']
    return MODELS.get(name if '.' in name else f'mmzoo.{name}')


def full_backbone_args(backbone_cfg: dict) -> dict:
    """The config's backbone arguments with every default filled in, read
    from the signatures along the class hierarchy, so a translation to
    mmpretrain never relies on the two libraries sharing a default (they do
    not: mmpretrain's Res2Net defaults to the v1b stem)."""
    args = {}
    for klass in reversed(backbone_class(backbone_cfg).__mro__):
        if '__init__' not in vars(klass):
            continue
        params = inspect.signature(klass.__init__).parameters.values()
        args.update((p.name, p.default) for p in params
                    if p.default is not inspect.Parameter.empty)
    args.update({k: v for k, v in backbone_cfg.items() if k != 'type'})
    return args


# --------------------------------------------------------------------------
# The mmpretrain baseline of each backbone
# --------------------------------------------------------------------------

# Arguments that do not change the inference graph, and those both
# libraries' ResNet-style backbones take under the same name and meaning.
NOT_ARCHITECTURE = {'frozen_stages', 'norm_eval', 'with_cp', 'pretrained',
                    'init_cfg'}
RESNET_SHARED = ['in_channels', 'stem_channels', 'base_channels', 'strides',
                 'dilations', 'out_indices', 'conv_cfg', 'norm_cfg']


def translate(args: dict, type_: str, renames: Dict[str, str],
              checked: Tuple[str, ...] = ()) -> Tuple[Optional[dict], str]:
    """Map our arguments onto an mmpretrain backbone. An argument that is
    neither mapped, nor checked by the caller, nor known to be irrelevant
    makes the baseline unknown rather than silently different."""
    unmapped = sorted(set(args) - set(renames) - set(RESNET_SHARED) -
                      NOT_ARCHITECTURE - set(checked))
    if unmapped:
        return None, (f'this tool has no mmpretrain mapping for '
                      f'{", ".join(unmapped)}')
    backbone = {their: args[ours] for ours, their in renames.items()}
    backbone.update((k, args[k]) for k in RESNET_SHARED if k in args)
    return dict(type=f'mmpretrain.{type_}', **backbone), ''


def res2net_baseline(args: dict, cls: type) -> Tuple[Optional[dict], str]:
    if args['groups'] != 1:
        return None, "mmpretrain's Res2Net has no groups: no Res2NeXt"
    if args['scales'] < 2:
        return None, "mmpretrain's Res2Net requires scales >= 2"
    # mmpretrain pools the pass-through split of every stage's first block,
    # at stride 1 too, as the official code does (mmdet's does not).
    return translate(args, 'Res2Net', dict(
        depth='depth', scales='scales', base_width='base_width',
        deep_stem='deep_stem', avg_down='avg_down'), checked=('groups', ))


def resnext_baseline(args: dict, cls: type) -> Tuple[Optional[dict], str]:
    return translate(args, 'ResNeXt', dict(
        depth='depth', groups='groups', base_width='width_per_group',
        deep_stem='deep_stem', avg_down='avg_down'))


def resnest_baseline(args: dict, cls: type) -> Tuple[Optional[dict], str]:
    # Both are ResNet-D: the deep stem and pooled shortcut are fixed in both
    # classes (ours ignores ResNetBase's deep_stem/avg_down defaults).
    args = {k: v for k, v in args.items() if k not in ('deep_stem',
                                                       'avg_down')}
    if args['avd_first']:
        return None, "mmpretrain's ResNeSt pools only after the attention " \
            '(no avd_first)'
    if any(d != 1 for d in args['dilations']):
        return None, "mmpretrain's ResNeSt has no contract_dilation and " \
            'drops the stride-1 pool of dilated stages'
    # mmpretrain ignores width_per_group without groups: its width is then
    # the plain ResNet width, which is ours at base_width 64.
    if args['groups'] == 1 and args['base_width'] != 64:
        return None, "mmpretrain's ResNeSt has width 64 when groups is 1"
    if args['stem_channels'] is None:  # ours picks the official one
        args['stem_channels'] = 2 * cls.arch_settings[args['depth']][1]
    return translate(args, 'ResNeSt', dict(
        depth='depth', groups='groups', base_width='width_per_group',
        radix='radix', reduction_factor='reduction_factor',
        avd='avg_down_stride'), checked=('avd_first', 'contract_dilation'))


def swin_baseline(args: dict, cls: type) -> Tuple[Optional[dict], str]:
    # mmpretrain fixes what ours exposes as arguments: check they agree.
    fixed = dict(patch_size=4, mlp_ratio=4., qkv_bias=True,
                 act_cfg=dict(type='GELU'))
    different = [k for k, v in fixed.items() if args[k] != v]
    if different:
        return None, f"mmpretrain's SwinTransformer fixes {different}"
    # Its image size only sizes the (unused) absolute position embedding and
    # its windows; 224 is the size this table measures.
    backbone, note = translate(args, 'SwinTransformer', dict(
        arch='arch', window_size='window_size',
        drop_path_rate='drop_path_rate'), checked=tuple(fixed))
    if backbone is not None:
        backbone.update(img_size=IMAGE[1:])
    return backbone, note


BASELINES: Dict[str, Callable[[dict, type], Tuple[Optional[dict], str]]] = {
    'Res2Net': res2net_baseline,
    'ResNeXt': resnext_baseline,
    'ResNeSt': resnest_baseline,
    'SwinTransformer': swin_baseline,
}


def baseline_model_cfg(model_cfg: dict) -> Tuple[Optional[dict], str]:
    """Our classifier with mmpretrain's backbone in place of ours."""
    cls = backbone_class(model_cfg['backbone'])
    if cls.__name__ not in BASELINES:
        return None, f'no mmpretrain counterpart of {cls.__name__} mapped here'
    backbone, note = BASELINES[cls.__name__](
        full_backbone_args(model_cfg['backbone']), cls)
    if backbone is None:
        return None, note
    theirs = copy.deepcopy(model_cfg)
    theirs['backbone'] = backbone
    return theirs, note


# --------------------------------------------------------------------------
# Measurements
# --------------------------------------------------------------------------

@dataclass
class Measures:
    params: int
    macs: int
    seconds: List[float] = field(default_factory=list)
    peak_mib: Optional[float] = None

    def images_per_second(self, batch: int) -> Optional[float]:
        return batch / statistics.median(self.seconds) \
            if self.seconds else None


@dataclass
class Row:
    name: str
    config: str
    ours: Measures
    theirs: Optional[Measures]
    notes: List[str]
    run: int = 0  # index into the runs the page records

    @classmethod
    def from_dict(cls, record: dict) -> 'Row':
        theirs = record['theirs']
        return cls(**dict(record, ours=Measures(**record['ours']),
                          theirs=theirs and Measures(**theirs)))


@dataclass
class Run:
    """One invocation of this tool: where and how its rows were measured."""
    command: str
    started: str
    minutes: float
    machine: List[str]
    batch: int
    repeats: int
    speed: bool


def count_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def count_macs(model: torch.nn.Module) -> int:
    """mmengine's FlopAnalyzer, which (as fvcore) counts one multiply-add
    as one operation: its "flops" are MACs."""
    analyzer = FlopAnalyzer(model, (torch.randn(1, *IMAGE), ))
    analyzer.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
    for op in WINDOW_ATTENTION_OPS:
        analyzer.set_op_handle(op, window_attention_flop_jit)
    return int(analyzer.total())


def time_interleaved(models: List[torch.nn.Module], batch: int,
                     repeats: int, step: Callable[[], None]) -> List[list]:
    """Seconds per forward of each model, alternating the models every
    repeat (A/B/A/B) so that load from other processes hits them alike."""
    inputs = torch.randn(batch, *IMAGE)
    seconds = [[] for _ in models]
    with torch.no_grad():
        for _ in range(WARMUP + repeats):
            for model, times in zip(models, seconds):
                start = time.perf_counter()
                model(inputs)
                times.append(time.perf_counter() - start)
            step()
    return [times[WARMUP:] for times in seconds]


def peak_memory_mib(model_cfg: dict, batch: int) -> Optional[float]:
    """Peak inference memory measured in a fresh interpreter, so that
    neither the other model nor earlier rows leave memory behind."""
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_=str(MMAP_THRESHOLD))
    result = subprocess.run(
        [sys.executable, osp.abspath(__file__), '--memory-worker',
         json.dumps(model_cfg), '--batch', str(batch),
         '--threads', str(torch.get_num_threads())],
        cwd=REPO, env=env, capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])['peak_mib']


def proc_status_kib(key: str) -> int:
    with open('/proc/self/status') as f:
        return int(re.search(rf'^{key}:\s+(\d+) kB', f.read(), re.M)[1])


def memory_worker(model_cfg: dict, batch: int, threads: int) -> dict:
    """Peak growth of the resident set over one batch's forward, after a
    warm-up forward has made the one-time allocations. Writing 5 to
    clear_refs resets the kernel's high-water mark (VmHWM) to the current
    RSS, so the mark afterwards is the peak of this forward alone."""
    torch.set_num_threads(threads)
    torch.set_flush_denormal(True)
    init_default_scope('mmzoo')
    model = build(model_cfg)
    inputs = torch.randn(batch, *IMAGE)
    with torch.no_grad():
        model(inputs)
        gc.collect()
        before = proc_status_kib('VmRSS')
        try:
            with open('/proc/self/clear_refs', 'w') as f:
                f.write('5')
        except OSError:
            return dict(peak_mib=None)  # this kernel cannot reset the mark
        model(inputs)
        peak = proc_status_kib('VmHWM')
    return dict(peak_mib=(peak - before) / 1024)


def measure_row(config: str, args, step: Callable[[], None]) -> Row:
    model_cfg = load_model_cfg(config)
    theirs_cfg, note = baseline_model_cfg(model_cfg)
    notes = [note] if note else []
    models = [build(model_cfg)]
    if theirs_cfg is not None:
        models.append(build(theirs_cfg))
    measures = [Measures(count_params(m), count_macs(m)) for m in models]
    step()
    if not args.skip_speed:
        for m, seconds in zip(measures, time_interleaved(
                models, args.batch, args.repeats, step)):
            m.seconds = seconds
        del models
        gc.collect()
        for m, cfg in zip(measures, [model_cfg, theirs_cfg]):
            m.peak_mib = peak_memory_mib(cfg, args.batch)
            step()
        if len(measures) == 1:
            step()  # the baseline's worker that did not run
    ours = measures[0]
    theirs = measures[1] if len(measures) > 1 else None
    if theirs is not None:
        notes += architecture_notes(ours, theirs)
    return Row(variant_name(config), config, ours, theirs, notes)


def architecture_notes(ours: Measures, theirs: Measures) -> List[str]:
    """Equal counts are the check that the baseline is the same network."""
    notes = []
    if ours.params != theirs.params:
        notes.append(f'parameters differ by {ours.params - theirs.params:+,}'
                     f': not the same architecture')
    if abs(ours.macs - theirs.macs) > 0.005 * theirs.macs:
        notes.append(f'MACs differ by {ours.macs / theirs.macs - 1:+.1%}')
    return notes


def check_configs(configs: List[str]) -> None:
    """Resolve every backbone before measuring, so that a broken or
    half-written config fails in seconds rather than minutes into a run."""
    for config in configs:
        try:
            backbone_class(load_model_cfg(config)['backbone'])
        except Exception as error:
            raise SystemExit(f'{osp.relpath(config, REPO)}: {error}')


def steps_per_row(args) -> int:
    # complexity, then warm-up + repeats forward pairs, then two workers
    return 1 if args.skip_speed else 1 + WARMUP + args.repeats + 2


def measure_all(configs: List[str], args) -> List[Row]:
    console = Console(stderr=True)
    rows = []
    with Progress(TextColumn('{task.description:<28}'), BarColumn(),
                  MofNCompleteColumn(), TimeElapsedColumn(),
                  TimeRemainingColumn(), console=console) as progress:
        task = progress.add_task(
            'measuring', total=len(configs) * steps_per_row(args))
        for config in configs:
            progress.update(task, description=variant_name(config))
            rows.append(measure_row(
                config, args, lambda: progress.advance(task)))
            if not console.is_terminal:
                # A redirected log gets no live bar; say where the run is.
                console.print(f'measured {variant_name(config)} '
                              f'({len(rows)}/{len(configs)})')
    return rows


# --------------------------------------------------------------------------
# The report
# --------------------------------------------------------------------------

def throughput_ratio(row: Row, batch: int) -> Optional[float]:
    if row.theirs is None or not row.ours.seconds:
        return None
    return row.ours.images_per_second(batch) / \
        row.theirs.images_per_second(batch)


def paired_ratios(row: Row) -> List[float]:
    """Per-repeat ratios of neighbouring forwards: their spread is this
    run's noise on the ratio."""
    return [t / o for o, t in zip(row.ours.seconds, row.theirs.seconds)]


def fmt(value, spec: str) -> str:
    return '—' if value is None else format(value, spec)


def ratio_cell(ours, theirs) -> str:
    return '—' if ours is None or theirs is None else f'{ours / theirs:.2f}'


def table_header(speed: bool) -> List[str]:
    header = ['variant', 'params (M)', 'params (M), mmpretrain',
              'GMACs', 'GMACs, mmpretrain']
    if speed:
        header += ['img/s', 'img/s, mmpretrain', 'throughput ratio',
                   'peak MiB', 'peak MiB, mmpretrain', 'memory ratio']
    return header + ['notes']


def table_row(row: Row, batch: int, speed: bool) -> List[str]:
    ours, theirs = row.ours, row.theirs

    def baseline(value: Callable[[Measures], Optional[float]]):
        return None if theirs is None else value(theirs)

    cells = [f'`{row.name}`',
             f'{ours.params / 1e6:.2f}',
             fmt(baseline(lambda m: m.params / 1e6), '.2f'),
             f'{ours.macs / 1e9:.2f}',
             fmt(baseline(lambda m: m.macs / 1e9), '.2f')]
    if speed:
        ours_ips = ours.images_per_second(batch)
        theirs_ips = baseline(lambda m: m.images_per_second(batch))
        theirs_mib = baseline(lambda m: m.peak_mib)
        cells += [fmt(ours_ips, '.1f'), fmt(theirs_ips, '.1f'),
                  ratio_cell(ours_ips, theirs_ips),
                  fmt(ours.peak_mib, '.0f'), fmt(theirs_mib, '.0f'),
                  ratio_cell(ours.peak_mib, theirs_mib)]
    return cells + ['; '.join(row.notes)]


def format_table(rows: List[Row], batch: int, speed: bool) -> str:
    lines = [table_header(speed)]
    lines.append(['---'] * len(lines[0]))
    lines += [table_row(row, batch, speed) for row in rows]
    return '\n'.join('| ' + ' | '.join(cells) + ' |' for cells in lines)


def goal_lines(rows: List[Row], batch: int, speed: bool) -> List[str]:
    """One line per architecture that misses the goal, with what this run
    can say about why."""
    if not speed:
        return ['Throughput was not measured (`--skip-speed`).']
    missed = []
    for row in rows:
        ratio = throughput_ratio(row, batch)
        if ratio is None or ratio >= GOAL:
            continue
        pairs = paired_ratios(row)
        # Three decimals: 0.998 must not read as the 1.00 it misses.
        missed.append(f'- `{row.name}`: {ratio:.3f} '
                      f'(per-repeat {min(pairs):.2f}–{max(pairs):.2f}); '
                      f'{miss_reason(row, pairs)}')
    compared = sum(r.theirs is not None for r in rows)
    if not missed:
        return [f'Met for all {compared} architectures mmpretrain has.']
    return [f'Not met for {len(missed)} of {compared} architectures '
            'mmpretrain has:', ''] + missed


def miss_reason(row: Row, pairs: List[float]) -> str:
    if row.ours.macs > 1.005 * row.theirs.macs:
        return (f'ours counts {row.ours.macs / row.theirs.macs - 1:.1%} '
                'more MACs')
    if max(pairs) >= GOAL:
        return ('within this run\'s noise: some repeats have ours as fast '
                'or faster')
    return ('same MACs and slower in every repeat: the cost is in how our '
            'blocks run, not in what they compute (profile it)')


def load_average() -> str:
    return ', '.join(f'{v:.2f}' for v in os.getloadavg())


def machine_lines(load_at_start: str) -> List[str]:
    cpu = platform.processor() or platform.machine()
    with open('/proc/cpuinfo') as f:
        names = re.findall(r'^model name\s*:\s*(.+)$', f.read(), re.M)
    cpu = names[0] if names else cpu
    import mmpretrain
    return [
        f'- CPU: {cpu}, {os.cpu_count()} logical cores '
        f'({len(os.sched_getaffinity(0))} available to the run)',
        f'- torch {torch.__version__.split("+")[0]} with '
        f'{torch.get_num_threads()} threads, mmpretrain '
        f'{mmpretrain.__version__}, Python {platform.python_version()}',
        f'- load average (1, 5, 15 min) when the run started: '
        f'{load_at_start}; when it ended: {load_average()}',
    ]


def method_lines(batch: int, repeats: int, speed: bool) -> List[str]:
    lines = [
        '- **params**: parameters of the whole ImageNet classifier '
        '(backbone, global pooling, 1000-class linear head).',
        '- **GMACs**: `mmengine.analysis.FlopAnalyzer` on one 224×224 '
        'image. It counts one multiply-add as one operation, so these are '
        'MACs (what mmengine and fvcore call FLOPs); papers that count '
        'FLOPs as 2×MACs give twice these.',
        '- **mmpretrain**: the same ImageClassifier with mmpretrain '
        "1.x's backbone given the same depth, widths, scales, groups, radix "
        'and stem; `—` where mmpretrain has no such architecture. Equal '
        'parameter counts confirm the two are the same network.',
    ]
    if speed:
        lines += [
            f'- **img/s**: batch {batch}, 224×224, eval mode, '
            f'`torch.no_grad()`, on the CPU; {WARMUP} warm-up forwards, '
            f'then {repeats} timed forwards per model, ours and '
            "mmpretrain's alternating (A/B/A/B) in one process; the median "
            'forward time. **throughput ratio** = ours img/s ÷ mmpretrain '
            'img/s (above 1: ours is faster).',
            '- **peak MiB**: the growth of the resident set size over one '
            'forward of the batch, in a fresh Python process per model, '
            'after a warm-up forward: the kernel\'s high-water mark '
            '(`VmHWM`) is reset through `/proc/self/clear_refs` just before '
            'the forward, and the memory is its value after minus `VmRSS` '
            'before. glibc is told to map every allocation above '
            f'{MMAP_THRESHOLD // 1024} KiB separately '
            '(`MALLOC_MMAP_THRESHOLD_`) so freed tensors leave the resident '
            'set and it follows the live activations and workspaces. '
            '**memory ratio** = ours ÷ mmpretrain (below 1: ours uses less).',
            '- Denormal floats are flushed to zero so that randomly '
            'initialised weights cannot slow either model down.',
        ]
    return lines


def unconfigured_backbones() -> List[str]:
    """Registered backbones that no ImageNet config builds yet."""
    covered = {load_model_cfg(c)['backbone']['type'].split('.')[-1]
               for c in find_configs(None)}
    registered = {name for name, cls in MODELS.module_dict.items()
                  if cls.__module__.startswith('mmzoo.models.backbones')}
    return sorted(registered - covered)


def minutes_since(started: datetime.datetime) -> float:
    now = datetime.datetime.now(datetime.timezone.utc)
    return (now - started).total_seconds() / 60


def run_lines(runs: List[Run], rows: List[Row]) -> List[str]:
    if len(runs) == 1:
        run = runs[0]
        return [f'Produced by `{run.command}` on {run.started} in '
                f'{run.minutes:.1f} min.', '', '## Machine', '',
                *run.machine]
    lines = [f'Produced by {len(runs)} runs of the tool; each row was '
             'measured in one run (ours and mmpretrain side by side), so '
             'its ratios are as good as that run.', '', '## Machine', '']
    for index, run in enumerate(runs):
        names = ', '.join(f'`{r.name}`' for r in rows if r.run == index)
        lines += [f'Run {index + 1}: `{run.command}` on {run.started} '
                  f'in {run.minutes:.1f} min, rows {names}', '',
                  *run.machine, '']
    return lines[:-1]


def render_doc(rows: List[Row], runs: List[Run]) -> str:
    first = runs[0]
    table = format_table(rows, first.batch, first.speed)
    lines = [
        '# Backbones: size, cost and speed beside mmpretrain', '',
        f'<!-- Generated by {SCRIPT}; do not edit by hand, run it again. '
        '-->', '', *run_lines(runs, rows), '',
        '## How each column is measured', '',
        *method_lines(first.batch, first.repeats, first.speed), '',
        '## Table', '', table, '',
        '## Goal: throughput ratio ≥ 1.0', '',
        'The project promises that every backbone mmpretrain also has runs '
        'at least as fast as mmpretrain\'s (throughput ratio ≥ '
        f'{GOAL:.1f}).', '', *goal_lines(rows, first.batch, first.speed),
        '',
    ]
    missing = unconfigured_backbones()
    if missing:
        lines += ['Registered backbones without an ImageNet config, not in '
                  'the table: ' + ', '.join(f'`{m}`' for m in missing) + '.',
                  '']
    return '\n'.join(lines)


def record_path(doc_path: str) -> str:
    return osp.splitext(doc_path)[0] + '.json'


def read_record(doc_path: str, args) -> dict:
    """The rows and runs behind the page, checked before anything is
    measured: rows measured with other settings would not be comparable."""
    path = record_path(doc_path)
    if not osp.isfile(path):
        raise SystemExit(f'--update: {path} does not exist; run the tool '
                         'once without --update to create the page.')
    with open(path) as f:
        record = json.load(f)
    first = Run(**record['runs'][0])
    if (first.batch, first.repeats, first.speed) != \
            (args.batch, args.repeats, not args.skip_speed):
        raise SystemExit(
            f'--update: {path} was measured with --batch {first.batch} '
            f'--repeats {first.repeats}'
            f'{"" if first.speed else " --skip-speed"}; use the same.')
    return record


def merge_with_record(rows: List[Row], run: Run, record: dict
                      ) -> Tuple[List[Row], List[Run]]:
    """Earlier rows and runs from the record, with this run's rows in place
    of the ones it measured again."""
    runs = [Run(**r) for r in record['runs']]
    measured = {row.name for row in rows}
    kept = [r for r in map(Row.from_dict, record['rows'])
            if r.name not in measured]
    # Drop the runs none of whose rows are left, renumbering the rest.
    used = sorted({r.run for r in kept})
    renumber = {old: new for new, old in enumerate(used)}
    for row in kept:
        row.run = renumber[row.run]
    runs = [runs[i] for i in used] + [run]
    for row in rows:
        row.run = len(runs) - 1
    merged = sorted(kept + rows, key=lambda r: natural_key(r.config))
    return merged, runs


def write_outputs(rows: List[Row], runs: List[Run], out: str) -> None:
    atomic_write_bytes(render_doc(rows, runs).encode(), out)
    record = dict(runs=[asdict(r) for r in runs],
                  rows=[asdict(r) for r in rows])
    atomic_write_bytes(json.dumps(record, indent=1).encode(),
                       record_path(out))


# --------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------

def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Compare every mmzoo ImageNet backbone with mmpretrain.')
    parser.add_argument('--only', metavar='PATTERN',
                        help='keep configs whose file name contains PATTERN')
    parser.add_argument('--repeats', type=int, default=5,
                        help='timed forwards per model (default 5)')
    parser.add_argument('--batch', type=int, default=8,
                        help='images per forward (default 8)')
    parser.add_argument('--skip-speed', action='store_true',
                        help='parameters and MACs only')
    parser.add_argument('--out', help=f'Markdown output (default '
                        f'{DEFAULT_OUT} in the repository)')
    parser.add_argument('--update', action='store_true',
                        help='keep the rows of the page at --out that this '
                        'run does not measure')
    # Internal: one peak-memory measurement in this fresh process.
    parser.add_argument('--memory-worker', help=argparse.SUPPRESS)
    parser.add_argument('--threads', type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.repeats < 1 or args.batch < 1:
        parser.error('--repeats and --batch must be at least 1')
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.memory_worker:
        print(json.dumps(memory_worker(
            json.loads(args.memory_worker), args.batch, args.threads)))
        return 0
    started = datetime.datetime.now(datetime.timezone.utc)
    load_at_start = load_average()
    command = shlex.join(['python', SCRIPT, *sys.argv[1:]])
    configs = find_configs(args.only)
    if not configs:
        print(f'no configs/*/*_in1k.py matches {args.only!r}',
              file=sys.stderr)
        return 1
    out = osp.abspath(args.out) if args.out else osp.join(REPO, DEFAULT_OUT)
    record = read_record(out, args) if args.update else None
    torch.set_flush_denormal(True)
    init_default_scope('mmzoo')
    check_configs(configs)
    rows = measure_all(configs, args)
    speed = not args.skip_speed
    print(format_table(rows, args.batch, speed), '',
          *goal_lines(rows, args.batch, speed), sep='\n')
    run = Run(command=command,
              started=started.strftime('%Y-%m-%d %H:%M UTC'),
              minutes=round(minutes_since(started), 1),
              machine=machine_lines(load_at_start), batch=args.batch,
              repeats=args.repeats, speed=speed)
    runs = [run]
    if record is not None:
        rows, runs = merge_with_record(rows, run, record)
    write_outputs(rows, runs, out)
    print(f'\nwrote {out} and {osp.basename(record_path(out))}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
