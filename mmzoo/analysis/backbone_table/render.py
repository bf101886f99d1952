"""The Markdown page of the backbone table."""
from typing import Callable, List, Optional

from .compare import miss_reason, paired_ratios, throughput_ratio
from .measure import MMAP_THRESHOLD, WARMUP, Measures
from .record import Row, Run


def fmt(value, spec: str) -> str:
    return '—' if value is None else format(value, spec)


def ratio_cell(ours, theirs) -> str:
    return '—' if ours is None or theirs is None else f'{ours / theirs:.2f}'


def goal_text(goal: float) -> str:
    """``1.0``, ``0.95``: one decimal at least, and no rounding."""
    text = f'{goal:g}'
    return text if '.' in text else f'{goal:.1f}'


def table_header(speed: bool) -> List[str]:
    header = [
        'variant', 'params (M)', 'params (M), mmpretrain', 'GMACs',
        'GMACs, mmpretrain'
    ]
    if speed:
        header += [
            'img/s', 'img/s, mmpretrain', 'throughput ratio', 'peak MiB',
            'peak MiB, mmpretrain', 'memory ratio'
        ]
    return header + ['notes']


def table_row(row: Row, batch: int, speed: bool) -> List[str]:
    ours, theirs = row.ours, row.theirs

    def baseline(value: Callable[[Measures], Optional[float]]):
        return None if theirs is None else value(theirs)

    cells = [
        f'`{row.name}`', f'{ours.params / 1e6:.2f}',
        fmt(baseline(lambda m: m.params / 1e6), '.2f'),
        f'{ours.macs / 1e9:.2f}',
        fmt(baseline(lambda m: m.macs / 1e9), '.2f')
    ]
    if speed:
        ours_ips = ours.images_per_second(batch)
        theirs_ips = baseline(lambda m: m.images_per_second(batch))
        theirs_mib = baseline(lambda m: m.peak_mib)
        cells += [
            fmt(ours_ips, '.1f'),
            fmt(theirs_ips, '.1f'),
            ratio_cell(ours_ips, theirs_ips),
            fmt(ours.peak_mib, '.0f'),
            fmt(theirs_mib, '.0f'),
            ratio_cell(ours.peak_mib, theirs_mib)
        ]
    return cells + ['; '.join(row.notes)]


def format_table(rows: List[Row], batch: int, speed: bool) -> str:
    lines = [table_header(speed)]
    lines.append(['---'] * len(lines[0]))
    lines += [table_row(row, batch, speed) for row in rows]
    return '\n'.join('| ' + ' | '.join(cells) + ' |' for cells in lines)


def goal_lines(rows: List[Row], batch: int, speed: bool,
               goal: float) -> List[str]:
    """One line per architecture that misses the goal, with what this run can
    say about why."""
    if not speed:
        return ['Throughput was not measured (`--skip-speed`).']
    missed = []
    for row in rows:
        ratio = throughput_ratio(row.ours, row.theirs, batch)
        if ratio is None or ratio >= goal:
            continue
        pairs = paired_ratios(row.ours, row.theirs)
        # Three decimals: 0.998 must not read as the 1.00 it misses.
        missed.append(f'- `{row.name}`: {ratio:.3f} '
                      f'(per-repeat {min(pairs):.2f}–{max(pairs):.2f}); '
                      f'{miss_reason(row.ours, row.theirs, pairs, goal)}')
    compared = sum(r.theirs is not None for r in rows)
    if not missed:
        return [f'Met for all {compared} architectures mmpretrain has.']
    return [
        f'Not met for {len(missed)} of {compared} architectures '
        'mmpretrain has:', ''
    ] + missed


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


def run_lines(runs: List[Run], rows: List[Row]) -> List[str]:
    if len(runs) == 1:
        run = runs[0]
        return [
            f'Produced by `{run.command}` on {run.started} in '
            f'{run.minutes:.1f} min.', '', '## Machine', '', *run.machine
        ]
    lines = [
        f'Produced by {len(runs)} runs of the tool; each row was '
        'measured in one run (ours and mmpretrain side by side), so '
        'its ratios are as good as that run.', '', '## Machine', ''
    ]
    for index, run in enumerate(runs):
        names = ', '.join(f'`{r.name}`' for r in rows if r.run == index)
        lines += [
            f'Run {index + 1}: `{run.command}` on {run.started} '
            f'in {run.minutes:.1f} min, rows {names}', '', *run.machine, ''
        ]
    return lines[:-1]


def render_doc(rows: List[Row], runs: List[Run], goal: float, generator: str,
               unconfigured: List[str]) -> str:
    """The whole page.

    ``generator`` is the script to run again instead of editing the page;
    ``unconfigured`` the registered backbones that no ImageNet config builds,
    named so that their absence is not mistaken for an oversight.
    """
    first = runs[0]
    table = format_table(rows, first.batch, first.speed)
    lines = [
        '# Backbones: size, cost and speed beside mmpretrain',
        '',
        f'<!-- Generated by {generator}; do not edit by hand, run it again. '
        '-->',
        '',
        *run_lines(runs, rows),
        '',
        '## How each column is measured',
        '',
        *method_lines(first.batch, first.repeats, first.speed),
        '',
        '## Table',
        '',
        table,
        '',
        f'## Goal: throughput ratio ≥ {goal_text(goal)}',
        '',
        'The project promises that every backbone mmpretrain also has runs '
        'at least as fast as mmpretrain\'s (throughput ratio ≥ '
        f'{goal_text(goal)}).',
        '',
        *goal_lines(rows, first.batch, first.speed, goal),
        '',
    ]
    if unconfigured:
        lines += [
            'Registered backbones without an ImageNet config, not in '
            'the table: ' + ', '.join(f'`{m}`' for m in unconfigured) + '.', ''
        ]
    return '\n'.join(lines)
