"""T2Net's task transformer: mmzoo's tiled hard patch attention against the
official all-pairs computation.

    python benchmarks/t2net_transformer.py [--sizes 128,256] [--batch 1]
        [--repeats 3] [--warmup 1] [--max-naive-gib 8]

The baseline is the official ``Transformer.forward`` (github
chunmeifeng/T2Net, models/T2net.py): the relevance of every pair of 3×3
patches in one (H·W)² matrix, then max, gather and fold. Ours is
:func:`mmzoo.models.utils.task_transformer.hard_patch_attention`. A size
``S`` is one call on ``--batch`` query and key maps of S×S with 64 channels
(T2Net's features), forward and backward.

For each size the script first checks that both give the same relevance,
texture and input gradients, then times them in turn (median of
``--repeats`` after ``--warmup``) and prints ``ratio = baseline / ours`` for
time and for peak memory (above 1: ours is faster / smaller). On CPU the
peak is the growth of the process's peak resident memory during one
forward+backward in a fresh interpreter per implementation; on CUDA it is
``torch.cuda.max_memory_allocated``. The baseline's two (H·W)² matrices
(forward relevance and its gradient) need 32 GiB per image at 256²; a size
whose baseline would exceed ``--max-naive-gib`` is measured for ours only
and the baseline's need is printed instead.
"""
import argparse
import json
import platform
import resource
import statistics
import subprocess
import sys
import time

import torch
import torch.nn.functional as F

from mmzoo.models.utils.task_transformer import hard_patch_attention

CHANNELS = 64


def official(query, key, value):
    q = F.normalize(F.unfold(query, 3, padding=1), dim=1)
    k = F.normalize(F.unfold(key, 3, padding=1), dim=1).permute(0, 2, 1)
    relevance, index = torch.max(torch.bmm(k, q), dim=1)
    v = F.unfold(value, 3, padding=1)
    texture = torch.gather(v, 2, index.unsqueeze(1).expand(-1, v.shape[1], -1))
    texture = F.fold(texture, query.shape[-2:], 3, padding=1) / 9.
    return relevance.view(query.shape[0], 1, *query.shape[-2:]), texture


IMPLS = dict(official=official, ours=hard_patch_attention)


def make_inputs(size, batch, device):
    torch.manual_seed(0)
    return [
        torch.randn(
            batch, CHANNELS, size, size, device=device, requires_grad=True)
        for _ in range(3)
    ]


def step(impl, inputs):
    relevance, texture = IMPLS[impl](*inputs)
    (relevance.sum() + texture.sum()).backward()
    return relevance, texture


def naive_bytes(size, batch):
    """The baseline's relevance matrix and its gradient (float32)."""
    return 2 * 4 * batch * size**4


def sync(device):
    if device.type == 'cuda':
        torch.cuda.synchronize()


def check_same(size, batch, device):
    results = {}
    for impl in IMPLS:
        inputs = make_inputs(size, batch, device)
        outs = step(impl, inputs)
        results[impl] = [o.detach() for o in outs] + [t.grad for t in inputs]
    errs = [(a - b).abs().max().item() / max(b.abs().max().item(), 1e-12)
            for a, b in zip(results['ours'], results['official'])]
    return max(errs) <= 1e-4, errs


def time_alternating(size, batch, device, impls, warmup, repeats):
    inputs = make_inputs(size, batch, device)
    times = {impl: [] for impl in impls}
    for i in range(warmup + repeats):
        for impl in impls:
            sync(device)
            start = time.perf_counter()
            step(impl, inputs)
            sync(device)
            for t in inputs:
                t.grad = None
            if i >= warmup:
                times[impl].append(time.perf_counter() - start)
    return {impl: statistics.median(t) for impl, t in times.items()}


def _vm_hwm():
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith('VmHWM:'):
                return int(line.split()[1]) * 1024
    raise RuntimeError('no VmHWM in /proc/self/status')


def rss_peak_worker(impl, size, batch):
    """Runs in a fresh interpreter: peak resident growth of one step."""
    inputs = make_inputs(size, batch, torch.device('cpu'))
    with open('/proc/self/statm') as f:
        before = int(f.read().split()[1]) * resource.getpagesize()
    with open('/proc/self/clear_refs', 'w') as f:
        f.write('5')
    step(impl, inputs)
    print(json.dumps(dict(peak=_vm_hwm() - before)))


def cpu_peak(impl, size, batch):
    res = subprocess.run([
        sys.executable, __file__, '--worker', impl, '--sizes',
        str(size), '--batch',
        str(batch), '--threads',
        str(torch.get_num_threads())
    ],
                         capture_output=True,
                         text=True)
    if res.returncode != 0:
        return None
    return json.loads(res.stdout.strip().splitlines()[-1])['peak']


def gpu_peak(impl, size, batch, device):
    inputs = make_inputs(size, batch, device)
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    base = torch.cuda.memory_allocated()
    step(impl, inputs)
    torch.cuda.synchronize()
    return torch.cuda.max_memory_allocated() - base


def mib(n):
    return 'failed' if n is None else f'{n / 2**20:9.1f} MiB'


def bench(size, batch, device, args):
    name = f'[{device.type}] {size}x{size} features, batch {batch}'
    need = naive_bytes(size, batch)
    with_naive = need <= args.max_naive_gib * 2**30
    impls = list(IMPLS) if with_naive else ['ours']
    if with_naive:
        ok, errs = check_same(size, batch, device)
        print(f'{name}: same relevance, texture and gradients: '
              f'{"yes" if ok else "NO"} (max relative |diff| '
              f'{", ".join(f"{e:.1e}" for e in errs)})')
    else:
        print(f'{name}: baseline skipped, its relevance matrix and gradient '
              f'need {need / 2**30:.0f} GiB (> --max-naive-gib '
              f'{args.max_naive_gib})')
    t = time_alternating(size, batch, device, impls, args.warmup, args.repeats)
    print(
        '  forward+backward ' + ', '.join(f'{impl} {t[impl] * 1e3:.1f} ms'
                                          for impl in impls) +
        (f'; ratio = baseline / ours: {t["official"] / t["ours"]:.2f}'
         if with_naive else ''),
        flush=True)
    peaks = {
        impl:
        gpu_peak(impl, size, batch, device)
        if device.type == 'cuda' else cpu_peak(impl, size, batch)
        for impl in impls
    }
    print('  peak memory ' + ', '.join(f'{impl} {mib(peaks[impl]).strip()}'
                                       for impl in impls) +
          (f'; ratio = baseline / ours: '
           f'{peaks["official"] / peaks["ours"]:.1f}'
           if with_naive and None not in peaks.values() else ''))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--sizes', default='128,256')
    parser.add_argument('--batch', type=int, default=1)
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--warmup', type=int, default=1)
    parser.add_argument('--max-naive-gib', type=float, default=8.0)
    parser.add_argument('--threads', type=int, default=None)
    parser.add_argument(
        '--worker', choices=list(IMPLS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    sizes = [int(s) for s in args.sizes.split(',')]
    if args.worker:
        rss_peak_worker(args.worker, sizes[0], args.batch)
        return
    print(f'torch {torch.__version__}, {platform.processor() or "cpu"}, '
          f'{torch.get_num_threads()} threads')
    devices = [torch.device('cpu')]
    if torch.cuda.is_available():
        devices.append(torch.device('cuda'))
    for device in devices:
        for size in sizes:
            bench(size, args.batch, device, args)


if __name__ == '__main__':
    main()
