"""Window attention of Swin-T's four stages: mmzoo's fused
``window_attention_qkv`` (``window_attention`` read straight from the packed
qkv projection, as mmzoo's Swin calls it) against mmseg's ``WindowMSA`` and
against ``torch.nn.functional.scaled_dot_product_attention``.

All three compute one function with one set of weights: a single mmseg
``WindowMSA`` per stage lends its qkv/proj Linear layers and relative position
bias table to the other two, and the outputs are compared before timing.
'SDPA-cached' (forward only) is SDPA with the bias + mask sum built once per
stage rather than per call, as a module may cache it for inference.
Every stage uses the shifted-window mask (the costlier half of Swin's
blocks). A fourth column times the shared qkv/proj Linear layers alone,
which bounds the ratio any attention kernel can reach. Times are medians
over ``--repeats`` after warm-up, the implementations alternating every
repeat; peak memory is the growth of the
CUDA allocator's peak, or on CPU of the resident set's high-water mark with
large allocations served by mmap (as tools/analysis_tools/backbone_table.py
does), over one call.

A second table times the attention kernels alone on the same q, k, v
(contiguous ``(B*nW, heads, N, d)``, forward): ``window_attention`` and
``window_attention_qkv`` (q, k, v packed as the qkv projection gives them)
against SDPA with the cached bias + mask (medians of five times
``--repeats`` timings of about 5 ms each). The header prints the SIMD level of
PyTorch's kernels and of ours; ``ATEN_CPU_CAPABILITY=avx2`` (or ``default``)
lowers both, to time an AVX2 machine's code on an AVX-512 one
(``MKL_ENABLE_INSTRUCTIONS=AVX2`` and ``ONEDNN_MAX_CPU_ISA=AVX2`` lower the
matrix products of MKL and oneDNN, which it leaves alone).

    python benchmarks/window_attention.py --device cpu --batch 4
    ATEN_CPU_CAPABILITY=avx2 python benchmarks/window_attention.py \
        --device cpu --batch 4
    python benchmarks/window_attention.py --device cuda --dtype float16
"""
import argparse
import ctypes
import gc
import re
import statistics
import time
from typing import Callable, Dict, List

import torch
import torch.nn.functional as F
from mmseg.models.backbones.swin import WindowMSA
from prettytable import PrettyTable

from mmzoo.ops import shift_window_mask, window_attention, window_attention_qkv
from mmzoo.ops._library import extension_supports

WINDOW = 7
SHIFT = 3
# Swin-T at 224x224: (feature map side, channels, heads) per stage.
STAGES = [(56, 96, 3), (28, 192, 6), (14, 384, 12), (7, 768, 24)]
WARMUP = 2
# glibc serves allocations above this size with mmap and returns them on
# free, so the resident set follows the live tensors.
MMAP_THRESHOLD = 64 * 1024
M_MMAP_THRESHOLD = -3  # mallopt parameter, from glibc's malloc.h

# (baseline, mode, time or memory, goal for baseline / ours), per device
GOALS = {
    'cuda': [('WindowMSA', 'fwd+bwd', 'time', 2.0),
             ('WindowMSA', 'fwd+bwd', 'memory', 2.0),
             ('SDPA', 'fwd+bwd', 'time', 1.2)],
    'cpu': [('WindowMSA', 'fwd', 'time', 3.0), ('SDPA', 'fwd', 'time', 1.0),
            ('SDPA-cached', 'fwd', 'time', 1.0),
            ('WindowMSA', 'fwd+bwd', 'time', 1.5)],
}
# The kernels alone on CPU (contender, goal for contender / ours), at stage 1
# (the largest share of Swin's attention time) and summed over the stages.
KERNEL_GOALS = [('SDPA-cached', 1.0)]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument(
        '--device',
        default='cuda' if torch.cuda.is_available() else 'cpu',
        choices=['cpu', 'cuda'])
    parser.add_argument(
        '--dtype',
        default=None,
        choices=['float32', 'float16', 'bfloat16', 'float64'],
        help='default: float16 on cuda, float32 on cpu')
    parser.add_argument(
        '--batch',
        type=int,
        default=None,
        help='images per batch; default 32 on cuda, 8 on cpu')
    parser.add_argument('--repeats', type=int, default=10)
    args = parser.parse_args()
    args.dtype = getattr(
        torch, args.dtype
        or ('float16' if args.device == 'cuda' else 'float32'))
    args.batch = args.batch or (32 if args.device == 'cuda' else 8)
    return args


# --------------------------------------------------------------------------
# The three implementations of one stage's shifted-window attention
# --------------------------------------------------------------------------


def relative_bias(msa: WindowMSA) -> torch.Tensor:
    """(heads, N, N) from mmseg's table, as WindowMSA.forward gathers it."""
    N = msa.window_size[0] * msa.window_size[1]
    table = msa.relative_position_bias_table[msa.relative_position_index.view(
        -1)]
    return table.view(N, N, -1).permute(2, 0, 1)


def split_heads(msa: WindowMSA, x: torch.Tensor):
    BW, N, C = x.shape
    qkv = msa.qkv(x).reshape(BW, N, 3, msa.num_heads, C // msa.num_heads)
    return qkv.permute(2, 0, 3, 1, 4).unbind(0)


def merge_heads(msa: WindowMSA, out: torch.Tensor) -> torch.Tensor:
    BW, heads, N, d = out.shape
    return msa.proj(out.transpose(1, 2).reshape(BW, N, heads * d))


def mmzoo_attention(msa: WindowMSA, x: torch.Tensor,
                    mask: torch.Tensor) -> torch.Tensor:
    # As mmzoo's Swin calls it: straight from the packed qkv projection.
    out = window_attention_qkv(
        msa.qkv(x), msa.num_heads, relative_bias(msa), mask, msa.scale)
    return msa.proj(out)


def sdpa_attention(msa: WindowMSA, x: torch.Tensor,
                   mask: torch.Tensor) -> torch.Tensor:
    q, k, v = split_heads(msa, x)
    BW, heads, N, d = q.shape
    nW = mask.shape[0]
    # (B, nW * heads, N, d) against a (1, nW * heads, N, N) mask that
    # broadcasts over the batch, so bias + mask is built once per call.
    out = F.scaled_dot_product_attention(
        *(t.reshape(BW // nW, nW * heads, N, d) for t in (q, k, v)),
        attn_mask=combined_mask(msa, mask).to(q.dtype),
        scale=msa.scale)
    return merge_heads(msa, out.reshape(BW, heads, N, d))


def combined_mask(msa: WindowMSA, mask: torch.Tensor) -> torch.Tensor:
    """bias + mask as SDPA's ``(1, nW * heads, N, N)`` attn_mask, broadcast
    over the batch.

    Four dimensions: given a three-dimensional mask, PyTorch's CPU SDPA
    leaves its fused kernel for the unfused math path (2.5 times slower).
    """
    nW, N, _ = mask.shape
    return (mask.unsqueeze(1) + relative_bias(msa).unsqueeze(0)).reshape(
        1, nW * msa.num_heads, N, N)


def sdpa_cached_attention(msa: WindowMSA, x: torch.Tensor,
                          attn_mask: torch.Tensor) -> torch.Tensor:
    """SDPA with the bias + mask sum built beforehand (``attn_mask``)."""
    q, k, v = split_heads(msa, x)
    BW, heads, N, d = q.shape
    batch = BW * heads // attn_mask.shape[1]
    out = F.scaled_dot_product_attention(
        *(t.reshape(batch, -1, N, d) for t in (q, k, v)),
        attn_mask=attn_mask,
        scale=msa.scale)
    return merge_heads(msa, out.reshape(BW, heads, N, d))


def mmseg_attention(msa: WindowMSA, x: torch.Tensor,
                    mask: torch.Tensor) -> torch.Tensor:
    return msa(x, mask)


def linears_only(msa: WindowMSA, x: torch.Tensor,
                 mask: torch.Tensor) -> torch.Tensor:
    """The qkv and proj Linear layers that all three share, without the
    attention: the part no attention kernel can speed up."""
    return msa.proj(msa.qkv(x)[..., :x.shape[-1]])


IMPLS = {
    'ours': mmzoo_attention,
    'WindowMSA': mmseg_attention,
    'SDPA': sdpa_attention,
    'Linears': linears_only
}

# --------------------------------------------------------------------------
# Measuring
# --------------------------------------------------------------------------


def synchronize(device: str) -> None:
    if device == 'cuda':
        torch.cuda.synchronize()


def proc_status_kib(key: str) -> int:
    with open('/proc/self/status') as f:
        return int(re.search(rf'^{key}:\s+(\d+) kB', f.read(), re.M)[1])


def peak_mib(call: Callable[[], None], device: str) -> float:
    """Growth of peak memory over one call."""
    gc.collect()
    if device == 'cuda':
        torch.cuda.synchronize()
        before = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
        call()
        torch.cuda.synchronize()
        return (torch.cuda.max_memory_allocated() - before) / 2**20
    before = proc_status_kib('VmRSS')
    with open('/proc/self/clear_refs', 'w') as f:
        f.write('5')  # resets VmHWM to the current resident set
    call()
    return (proc_status_kib('VmHWM') - before) / 1024


def graph_ms(step: Callable[[], None], repeats: int, replays: int = 20):
    """GPU time of one call: ``step`` captured in a CUDA graph and replayed, so
    that no launch or Python overhead is counted (None if the capture
    fails)."""
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        for _ in range(WARMUP):
            step()
    torch.cuda.current_stream().wait_stream(stream)
    graph = torch.cuda.CUDAGraph()
    try:
        with torch.cuda.graph(graph):
            step()
    except RuntimeError as error:
        print(f'CUDA graph capture failed: {error}')
        return None
    times = []
    for _ in range(repeats):
        start = torch.cuda.Event(enable_timing=True)
        end = torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(replays):
            graph.replay()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end) / replays)
    return statistics.median(times)


def make_step(fn, msa, x, mask, grad, backward: bool) -> Callable[[], None]:
    if not backward:

        def step():
            with torch.no_grad():
                fn(msa, x, mask)

        return step

    def step():
        x.grad = None
        msa.zero_grad(set_to_none=True)
        fn(msa, x, mask).backward(grad)

    return step


def measure_stage(side: int, channels: int, heads: int,
                  args: argparse.Namespace) -> Dict[str, Dict[str, tuple]]:
    """{mode: {impl: (median seconds, peak MiB, graph-replay ms or None)}}
    for one stage."""
    device, dtype = args.device, args.dtype
    torch.manual_seed(0)
    msa = WindowMSA(channels, heads, (WINDOW, WINDOW)).to(device, dtype)
    # mmseg initialises the table to zeros (trunc_normal in init_weights);
    # a random one makes the bias matter in the comparison.
    torch.nn.init.trunc_normal_(msa.relative_position_bias_table, std=0.5)
    n_windows = (side // WINDOW)**2
    x = torch.randn(
        args.batch * n_windows,
        WINDOW * WINDOW,
        channels,
        device=device,
        dtype=dtype,
        requires_grad=True)
    mask = shift_window_mask(side, side, WINDOW, SHIFT, device).to(dtype)
    grad = torch.randn_like(x)

    cached = combined_mask(msa, mask).detach()

    def sdpa_cached(msa, x, mask):
        return sdpa_cached_attention(msa, x, cached)

    with torch.no_grad():
        expected = mmseg_attention(msa, x, mask).float()
        for name, fn in (('ours', mmzoo_attention), ('SDPA', sdpa_attention),
                         ('SDPA-cached', sdpa_cached)):
            got = fn(msa, x, mask).float()
            err = (got - expected).abs().max().item()
            tol = 1e-3 if dtype in (torch.float32, torch.float64) else 3e-2
            if err > tol * max(1.0, expected.abs().max().item()):
                raise RuntimeError(f'{name} differs from WindowMSA by {err} '
                                   f'at stage {side}x{side}')

    results = {}
    for mode in ('fwd', 'fwd+bwd'):
        # The cached sum takes no gradient: forward only.
        impls = dict(IMPLS,
                     **({
                         'SDPA-cached': sdpa_cached
                     } if mode == 'fwd' else {}))
        steps = {
            name: make_step(fn, msa, x, mask, grad, mode != 'fwd')
            for name, fn in impls.items()
        }
        seconds: Dict[str, List[float]] = {name: [] for name in steps}
        for _ in range(WARMUP + args.repeats):
            for name, step in steps.items():
                synchronize(device)
                start = time.perf_counter()
                step()
                synchronize(device)
                seconds[name].append(time.perf_counter() - start)
        results[mode] = {
            name:
            (statistics.median(times[WARMUP:]), peak_mib(steps[name], device),
             graph_ms(steps[name], args.repeats) if device == 'cuda' else None)
            for name, times in seconds.items()
        }
    return results


def measure_kernels(side: int, channels: int, heads: int,
                    args: argparse.Namespace) -> Dict[str, float]:
    """{contender: median seconds per forward call} of the attention kernels
    alone on one stage's q, k, v."""
    device, dtype = args.device, args.dtype
    torch.manual_seed(0)
    msa = WindowMSA(channels, heads, (WINDOW, WINDOW)).to(device, dtype)
    torch.nn.init.trunc_normal_(msa.relative_position_bias_table, std=0.5)
    N = WINDOW * WINDOW
    x = torch.randn(
        args.batch * (side // WINDOW)**2,
        N,
        channels,
        device=device,
        dtype=dtype)
    mask = shift_window_mask(side, side, WINDOW, SHIFT, device).to(dtype)
    with torch.no_grad():
        qkv = msa.qkv(x)
        q, k, v = (t.contiguous() for t in split_heads(msa, x))
        bias = relative_bias(msa)
        cached = combined_mask(msa, mask)
    d = channels // heads
    calls = {
        'ours':
        lambda: window_attention(q, k, v, bias, mask, msa.scale),
        'ours-qkv':
        lambda: window_attention_qkv(qkv, heads, bias, mask, msa.scale),
        'SDPA-cached':
        lambda: F.scaled_dot_product_attention(
            *(t.view(args.batch, -1, N, d) for t in (q, k, v)),
            attn_mask=cached,
            scale=msa.scale),
    }
    with torch.no_grad():
        expected = calls['SDPA-cached']().view(q.shape).float()
        got = {
            'ours':
            calls['ours']().float(),
            'ours-qkv':
            calls['ours-qkv']().view(-1, N, heads, d).transpose(1, 2).float()
        }
        for name, out in got.items():
            err = (out - expected).abs().max().item()
            tol = 1e-3 if dtype in (torch.float32, torch.float64) else 3e-2
            if err > tol * max(1.0, expected.abs().max().item()):
                raise RuntimeError(f'{name} differs from SDPA by {err} at '
                                   f'stage {side}x{side}')
        # Calls per timing, so that one timing lasts about 5 ms.
        start = time.perf_counter()
        calls['ours']()
        synchronize(device)
        number = max(1, int(5e-3 / (time.perf_counter() - start)))
        seconds: Dict[str, List[float]] = {name: [] for name in calls}
        # Five times --repeats: the kernels alone are cheap, and their
        # medians need many timings on a busy machine.
        for _ in range(WARMUP + 5 * args.repeats):
            for name, call in calls.items():
                synchronize(device)
                start = time.perf_counter()
                for _ in range(number):
                    call()
                synchronize(device)
                seconds[name].append((time.perf_counter() - start) / number)
    return {
        name: statistics.median(times[WARMUP:])
        for name, times in seconds.items()
    }


def kernel_table(args: argparse.Namespace) -> None:
    table = PrettyTable([
        'stage', 'ours ms', 'ours-qkv ms', 'SDPA-cached ms',
        'ratio SDPA-cached/ours', 'ratio SDPA-cached/ours-qkv'
    ])
    totals = {'ours': 0.0, 'ours-qkv': 0.0, 'SDPA-cached': 0.0}
    ratios = {}
    for side, channels, heads in STAGES:
        ms = {
            n: t * 1e3
            for n, t in measure_kernels(side, channels, heads, args).items()
        }
        stage = f'{side}x{side} C={channels} h={heads}'
        rows = [(stage, ms)]
        for n in totals:
            totals[n] += ms[n]
        if side == STAGES[0][0]:
            ratios['stage 1'] = ms
        if side == STAGES[-1][0]:
            ratios['all stages'] = totals
            rows.append(('all stages (sum)', totals))
        for name, row in rows:
            table.add_row([
                name, f"{row['ours']:.3f}", f"{row['ours-qkv']:.3f}",
                f"{row['SDPA-cached']:.3f}",
                f"{row['SDPA-cached'] / row['ours']:.2f}",
                f"{row['SDPA-cached'] / row['ours-qkv']:.2f}"
            ])
    print('The attention kernels alone, forward, on the same q, k, v '
          '(SDPA-cached: bias + mask summed beforehand)')
    print(table)
    for baseline, goal in KERNEL_GOALS:
        for where, ms in ratios.items():
            ratio = ms[baseline] / ms['ours']
            print(f'  kernels fwd time at {where}: ratio = {baseline} / ours '
                  f'= {ratio:.2f} (goal >= {goal}): '
                  f'{"met" if ratio >= goal else "NOT met"}')


def ratio_row(stage: str, mode: str, ms: Dict[str, float]) -> list:
    return [
        stage, mode, f"{ms['ours']:.3f}", f"{ms['WindowMSA']:.3f}",
        f"{ms['SDPA']:.3f}", f"{ms['WindowMSA'] / ms['ours']:.2f}",
        f"{ms['SDPA'] / ms['ours']:.2f}", f"{ms['Linears']:.3f}"
    ]


def main() -> None:
    args = parse_args()
    if args.device == 'cpu':
        ctypes.CDLL('libc.so.6').mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)
    probe = torch.zeros(1, device=args.device, dtype=args.dtype)
    kernel = extension_supports('window_attention', probe)
    print(f'device={args.device} dtype={args.dtype} batch={args.batch} '
          f'repeats={args.repeats} threads={torch.get_num_threads()} '
          f'compiled kernel={"yes" if kernel else "NO (reference fallback)"}')
    if args.device == 'cuda':
        print(torch.cuda.get_device_name())
    else:
        # ATEN_CPU_CAPABILITY sets both; ours follows PyTorch's, capped by
        # the CPU.
        ours = torch.ops.mmzoo.cpu_simd_level() if kernel else 'n/a'
        print('SIMD level: PyTorch '
              f'{torch.backends.cpu.get_cpu_capability()}, mmzoo {ours}')

    table = PrettyTable([
        'stage', 'mode', 'ours ms', 'WindowMSA ms', 'SDPA ms',
        'SDPA-cached ms', 'ratio WindowMSA/ours', 'ratio SDPA/ours',
        'ratio SDPA-cached/ours', 'Linears ms', 'bound WindowMSA/Linears',
        'ours MiB', 'WindowMSA MiB', 'SDPA MiB', 'mem ratio WindowMSA/ours',
        'Linears MiB'
    ])
    graph_table = PrettyTable([
        'stage', 'mode', 'ours ms', 'WindowMSA ms', 'SDPA ms',
        'ratio WindowMSA/ours', 'ratio SDPA/ours', 'Linears ms'
    ])
    graph_totals = {
        mode: {
            name: 0.0
            for name in IMPLS
        }
        for mode in ('fwd', 'fwd+bwd')
    }
    totals = {
        mode: {
            name: [0.0, 0.0]
            for name in list(IMPLS) + ['SDPA-cached']
        }
        for mode in ('fwd', 'fwd+bwd')
    }
    for side, channels, heads in STAGES:
        results = measure_stage(side, channels, heads, args)
        for mode, by_name in results.items():
            ms = {n: t * 1e3 for n, (t, _, _) in by_name.items()}
            mib = {n: m for n, (_, m, _) in by_name.items()}
            graph = {n: g for n, (_, _, g) in by_name.items()}
            stage = f'{side}x{side} C={channels} h={heads}'
            if None not in graph.values():
                for n in IMPLS:
                    graph_totals[mode][n] += graph[n]
                graph_table.add_row(ratio_row(stage, mode, graph))
            for n in ms:
                totals[mode][n][0] += ms[n]
                totals[mode][n][1] = max(totals[mode][n][1], mib[n])
            cached = ms.get('SDPA-cached')
            table.add_row([
                stage, mode, f"{ms['ours']:.2f}", f"{ms['WindowMSA']:.2f}",
                f"{ms['SDPA']:.2f}", f'{cached:.2f}' if cached else '-',
                f"{ms['WindowMSA'] / ms['ours']:.2f}",
                f"{ms['SDPA'] / ms['ours']:.2f}",
                f"{cached / ms['ours']:.2f}" if cached else '-',
                f"{ms['Linears']:.2f}",
                f"{ms['WindowMSA'] / ms['Linears']:.2f}", f"{mib['ours']:.1f}",
                f"{mib['WindowMSA']:.1f}", f"{mib['SDPA']:.1f}",
                f"{mib['WindowMSA'] / max(mib['ours'], 1e-6):.2f}",
                f"{mib['Linears']:.1f}"
            ])
    for mode, by_name in totals.items():
        cached = by_name['SDPA-cached'][0]
        table.add_row([
            'all stages (sum ms, max MiB)', mode, f"{by_name['ours'][0]:.2f}",
            f"{by_name['WindowMSA'][0]:.2f}", f"{by_name['SDPA'][0]:.2f}",
            f'{cached:.2f}' if cached else '-',
            f"{by_name['WindowMSA'][0] / by_name['ours'][0]:.2f}",
            f"{by_name['SDPA'][0] / by_name['ours'][0]:.2f}",
            f"{cached / by_name['ours'][0]:.2f}" if cached else '-',
            f"{by_name['Linears'][0]:.2f}",
            f"{by_name['WindowMSA'][0] / by_name['Linears'][0]:.2f}",
            f"{by_name['ours'][1]:.1f}", f"{by_name['WindowMSA'][1]:.1f}",
            f"{by_name['SDPA'][1]:.1f}",
            f"{by_name['WindowMSA'][1] / max(by_name['ours'][1], 1e-6):.2f}",
            f"{by_name['Linears'][1]:.1f}"
        ])
    print(table)
    if graph_table.rows:
        for mode, by_name in graph_totals.items():
            graph_table.add_row(ratio_row('all stages (sum)', mode, by_name))
        print('GPU time per call (CUDA-graph replay: no launch or Python '
              'overhead)')
        print(graph_table)

    print('"Linears" times only the qkv and proj layers that all three share;'
          ' WindowMSA / Linears bounds the ratio any attention kernel can '
          'reach.')
    print('goals (on the sum over the four stages; memory: max over stages):')
    for baseline, mode, kind, goal in GOALS[args.device]:
        index = 0 if kind == 'time' else 1
        ratio = totals[mode][baseline][index] / max(
            totals[mode]['ours'][index], 1e-6)
        what = 'time' if kind == 'time' else 'peak memory'
        print(f'  {mode} {what} ratio = {baseline} / ours = {ratio:.2f} '
              f'(goal >= {goal}): {"met" if ratio >= goal else "NOT met"}')
    kernel_table(args)


if __name__ == '__main__':
    main()
