"""STANet's pyramid attention (PAM): mmzoo's blocked attention against the
official computation, and STANet-PAM training throughput.

    python benchmarks/stanet_pam.py [--cases 64x64x8,128x128x1]
        [--repeats 3] [--warmup 1] [--train-batch 8] [--train-size 256]

The baseline is the official ``_PAMBlock`` computation (github
justchenhao/STANet, models/PAM2.py), written here with our module's
weights: every scale's regions of both dates are sliced, concatenated into
one batch, and one ``bmm`` forms the full similarity matrix before the
softmax. Ours (``mmzoo.models.decode_heads.sta_head.PAM``) never forms that
matrix. A case ``HxWxB`` is one PAM (64 channels, scales 1, 2, 4, 8) on
B pairs of H×W feature maps (a 256² pair gives 64×64), forward and
backward.

For each case the script first checks that both give the same output and
input gradient, then times them in turn (median of ``--repeats`` after
``--warmup``) and prints ``ratio = baseline / ours`` for time and for peak
memory (above 1: ours is faster / smaller). On CPU the peak is the growth of
the process's peak resident memory during one forward+backward, measured in
a fresh interpreter per implementation; on CUDA it is
``torch.cuda.max_memory_allocated`` (skipped without CUDA). Last, the
training throughput (pairs per second: forward, backward, Adam step) of the
whole STANet-PAM at ``--train-batch`` pairs of ``--train-size``², with our
PAM and with the official computation swapped in.
"""
import argparse
import json
import os.path as osp
import platform
import resource
import statistics
import subprocess
import sys
import time

import torch
import torch.nn.functional as F

from mmzoo.models.decode_heads import sta_head

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))

CHANNELS = 64


def official_pam_block(block, x):
    """_PAMBlock.forward (ds=1) on the side-by-side map x (B, C, h, 2w)."""
    b, _, h, w2 = x.shape
    w, s = w2 // 2, block.scale
    value, query, key = block.value(x), block.query(x), block.key(x)
    value, query, key = (
        torch.stack([t[..., :w], t[..., w:]], 4) for t in (value, query, key))
    cv, ck = value.shape[1], query.shape[1]
    sh, sw = h // s, w // s
    regions = [(i * sh, (i + 1) * sh, j * sw, (j + 1) * sw) for i in range(s)
               for j in range(s)]
    v_loc, q_loc, k_loc = (
        torch.cat([t[:, :, r0:r1, c0:c1] for r0, r1, c0, c1 in regions], 0)
        for t in (value, query, key))
    n = v_loc.shape[0]
    v_loc = v_loc.contiguous().view(n, cv, -1)
    q_loc = q_loc.contiguous().view(n, ck, -1).permute(0, 2, 1)
    k_loc = k_loc.contiguous().view(n, ck, -1)
    sim = torch.bmm(q_loc, k_loc)
    sim = (ck**-.5) * sim
    sim = F.softmax(sim, dim=-1)
    ctx = torch.bmm(v_loc, sim.permute(0, 2, 1)).view(n, cv, sh, sw, 2)
    rows = [
        torch.cat([ctx[b * (j + i * s):b * (j + i * s + 1)]
                   for j in range(s)], 3) for i in range(s)
    ]
    ctx = torch.cat(rows, 2)
    return torch.cat([ctx[..., 0], ctx[..., 1]], 3)


def official_pam(pam, x):
    return pam.fuse(
        torch.cat([official_pam_block(b, x) for b in pam.blocks], 1))


def build_pam(device):
    torch.manual_seed(0)
    return sta_head.PAM(CHANNELS).to(device).train()


def make_input(case, device):
    h, w, b = case
    torch.manual_seed(1)
    return torch.randn(
        b, CHANNELS, h, 2 * w, device=device, requires_grad=True)


def step(impl, pam, x):
    out = official_pam(pam, x) if impl == 'official' else pam(x)
    out.backward(torch.ones_like(out))
    return out


def sync(device):
    if device.type == 'cuda':
        torch.cuda.synchronize()


def time_alternating(fns, warmup, repeats, device):
    times = {name: [] for name in fns}
    for i in range(warmup + repeats):
        for name, fn in fns.items():
            sync(device)
            start = time.perf_counter()
            fn()
            sync(device)
            if i >= warmup:
                times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def check_same(pam, case, device):
    x = make_input(case, device)
    out_ours = step('ours', pam, x)
    grad_ours, x.grad = x.grad.clone(), None
    out_official = step('official', pam, x)
    err_out = (out_ours - out_official).abs().max().item()
    err_grad = (grad_ours - x.grad).abs().max().item()
    scale = out_official.abs().max().item()
    gscale = x.grad.abs().max().item()
    ok = err_out <= 1e-4 * scale + 1e-5 and err_grad <= 1e-4 * gscale + 1e-5
    pam.zero_grad()
    return ok, err_out, err_grad


def _vm_hwm():
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith('VmHWM:'):
                return int(line.split()[1]) * 1024
    raise RuntimeError('no VmHWM in /proc/self/status')


def rss_peak_worker(impl, case):
    """Runs in a fresh interpreter: peak resident growth of one step."""
    pam = build_pam(torch.device('cpu'))
    x = make_input(case, torch.device('cpu'))
    with open('/proc/self/statm') as f:
        before = int(f.read().split()[1]) * resource.getpagesize()
    # A forked child inherits its parent's peak; reset it to the present.
    with open('/proc/self/clear_refs', 'w') as f:
        f.write('5')
    step(impl, pam, x)
    print(json.dumps(dict(peak=_vm_hwm() - before)))


def cpu_peak(impl, case, threads):
    args = [
        sys.executable, __file__, '--worker', impl, '--cases',
        'x'.join(map(str, case)), '--threads',
        str(threads)
    ]
    res = subprocess.run(args, capture_output=True, text=True)
    if res.returncode != 0:
        return None  # e.g. killed for memory
    return json.loads(res.stdout.strip().splitlines()[-1])['peak']


def gpu_peak(impl, pam, case, device):
    x = make_input(case, device)
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    base = torch.cuda.memory_allocated()
    step(impl, pam, x)
    torch.cuda.synchronize()
    pam.zero_grad()
    return torch.cuda.max_memory_allocated() - base


def fmt_mem(n):
    return 'failed' if n is None else f'{n / 2**20:9.1f} MiB'


def bench_pam(case, device, args):
    pam = build_pam(device)
    name = f'{case[0]}x{case[1]} features, batch {case[2]}'
    ok, err_out, err_grad = check_same(pam, case, device)
    print(f'[{device.type}] {name}: same output and input gradient: '
          f'{"yes" if ok else "NO"} (max |diff| {err_out:.2e} output, '
          f'{err_grad:.2e} gradient)')
    x = make_input(case, device)

    def run(impl):

        def fn():
            step(impl, pam, x)
            x.grad = None
            pam.zero_grad()

        return fn

    t = time_alternating({
        'official': run('official'),
        'ours': run('ours')
    }, args.warmup, args.repeats, device)
    if device.type == 'cuda':
        peak = {
            impl: gpu_peak(impl, pam, case, device)
            for impl in ('official', 'ours')
        }
    else:
        peak = {
            impl: cpu_peak(impl, case, args.threads)
            for impl in ('official', 'ours')
        }
    print(f'  forward+backward  official {t["official"] * 1e3:9.1f} ms   '
          f'ours {t["ours"] * 1e3:9.1f} ms   '
          f'ratio = {t["official"] / t["ours"]:.2f}')
    mem_ratio = 'n/a' if None in peak.values() else \
        f'{peak["official"] / peak["ours"]:.1f}'
    print(f'  peak memory       official {fmt_mem(peak["official"])}   '
          f'ours {fmt_mem(peak["ours"])}   ratio = {mem_ratio}')
    return ok


def bench_training(device, args):
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    from mmzoo.registry import MODELS
    cfg = Config.fromfile(
        osp.join(REPO,
                 'configs/stanet/stanet-pam_r18_1xb8-200e_levircd-256x256.py'))
    cfg.model.backbone.pop('init_cfg', None)
    init_default_scope('mmzoo')
    torch.manual_seed(0)
    model = MODELS.build(cfg.model).to(device).train()
    optim = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.5, 0.999))
    b, s = args.train_batch, args.train_size
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample
    inputs = torch.randn(b, 6, s, s, device=device)
    samples = []
    for _ in range(b):
        sample = SegDataSample()
        sample.gt_sem_seg = PixelData(
            data=torch.randint(0, 2, (1, s, s), device=device))
        samples.append(sample)

    def train_step():
        optim.zero_grad()
        loss = model(inputs, samples, mode='loss')['loss_bcl']
        loss.backward()
        optim.step()

    def with_official():
        pam = model.decode_head.attention
        forward = pam.forward
        pam.forward = lambda x: official_pam(pam, x)
        try:
            train_step()
        finally:
            pam.forward = forward

    t = time_alternating({
        'official': with_official,
        'ours': train_step
    }, args.warmup, args.repeats, device)
    print(f'[{device.type}] STANet-PAM training, batch {b} of {s}x{s} pairs: '
          f'official PAM {b / t["official"]:.2f} pairs/s, '
          f'ours {b / t["ours"]:.2f} pairs/s, '
          f'ratio = {t["official"] / t["ours"]:.2f}')


def parse_cases(text):
    return [tuple(int(v) for v in c.split('x')) for c in text.split(',')]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--cases', default='64x64x8,128x128x1')
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--warmup', type=int, default=1)
    parser.add_argument('--train-batch', type=int, default=8)
    parser.add_argument('--train-size', type=int, default=256)
    parser.add_argument('--threads', type=int, default=torch.get_num_threads())
    parser.add_argument('--skip-training', action='store_true')
    parser.add_argument(
        '--devices',
        default='cpu,cuda',
        help='comma-separated; cuda is skipped without a GPU')
    parser.add_argument(
        '--worker', choices=['ours', 'official'], help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.worker:
        rss_peak_worker(args.worker, parse_cases(args.cases)[0])
        return
    print(f'torch {torch.__version__}, {platform.processor() or "cpu"}, '
          f'{args.threads} threads; PAM of {CHANNELS} channels, scales '
          '1, 2, 4, 8, forward+backward')
    ok = True
    for device in args.devices.split(','):
        if device == 'cuda' and not torch.cuda.is_available():
            print('CUDA: not available, GPU comparison skipped')
            continue
        for case in parse_cases(args.cases):
            ok &= bench_pam(case, torch.device(device), args)
        if not args.skip_training:
            bench_training(torch.device(device), args)
    sys.exit(0 if ok else 1)


if __name__ == '__main__':
    main()
