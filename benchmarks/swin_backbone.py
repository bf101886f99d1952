"""Swin-T backbone speed: mmzoo against mmseg's SwinTransformer and timm's
Swin-T (with PyTorch's fused scaled_dot_product_attention), all three with the
same weights.

    python benchmarks/swin_backbone.py [--batch 2] [--size 224]
        [--repeats 10] [--warmup 3] [--gpu-batch 16]

CPU: inference (eval, no_grad) at ``--batch`` × 3 × size², also of our
backbone on mmzoo.ops' pure-PyTorch references ('ours-ref'). GPU (skipped
without CUDA): one training step (forward, backward, AdamW step) of each
at ``--gpu-batch``, in float32 and in float16 mixed precision. The models
are first checked to give the same features; then they run in turn
(A/B/C, ...) after ``--warmup`` untimed calls each, and each prints the
median of ``--repeats`` timings and ``ratio = baseline / ours`` (above 1:
ours is faster). The SIMD level of PyTorch's CPU kernels and of mmzoo's is
printed; ``ATEN_CPU_CAPABILITY=avx2`` lowers both.

Peak memory is measured for each model alone, never while another model's
weights, gradients or optimiser state are counted:

- GPU: only the measured model is on the GPU (the others wait on the CPU);
  its AdamW is new, the allocator's peak is reset, and the peak of two
  training steps (the first creates AdamW's state) less what was allocated
  before the model moved (the input batch) is its figure: weights,
  gradients, optimiser state and the step's activations and workspace.
- CPU: the growth of the process's resident-set high-water mark
  (``/proc/self/clear_refs`` resets it) over one inference call, after the
  timings, with the heap's free pages handed back first (``malloc_trim``)
  and allocations above 64 KiB then served by mmap, so that freed tensors
  leave the resident set: the call's activations and workspace (median of
  three calls; single calls vary by a few MiB on a busy machine).
  The three models' weights (the same 28 M parameters each) are resident
  throughout and not counted; a process per model would add them, and the
  interpreter's and libraries' memory, equally to all three. Linux only
  (skipped elsewhere).
"""
import argparse
import contextlib
import ctypes
import gc
import os
import platform
import re
import statistics
import time
from collections import OrderedDict

import torch

import mmzoo.ops
from mmzoo.models import SwinTransformer
from mmzoo.models.backbones import swin
from mmzoo.models.converters import convert_official_swin, swin_to_mmseg
from mmzoo.ops._library import extension_loaded

FEATURES = dict(embed_dims=96, depths=[2, 2, 6, 2], num_heads=[3, 6, 12, 24])
# glibc serves allocations above this size with mmap and returns them on
# free, so the resident set follows the live tensors.
MMAP_THRESHOLD = 64 * 1024
M_MMAP_THRESHOLD = -3  # mallopt parameter, from glibc's malloc.h


def official_state(timm_model) -> OrderedDict:
    """timm's Swin-T weights in the official layout (timm's
    checkpoint_filter_fn inverted); buffers are left out."""
    state = OrderedDict()
    for key, value in timm_model.state_dict().items():
        key = re.sub(r'^layers\.(\d+)\.downsample',
                     lambda m: f'layers.{int(m.group(1)) - 1}.downsample', key)
        state[key.replace('head.fc.', 'head.')] = value
    return state


def build_models():
    import timm
    from mmseg.models.backbones import SwinTransformer as MMSegSwin
    torch.manual_seed(0)
    timm_model = timm.create_model(
        'swin_tiny_patch4_window7_224', pretrained=False, num_classes=0)
    for m in timm_model.modules():
        if hasattr(m, 'fused_attn'):
            m.fused_attn = True  # timm's SDPA path
    state = official_state(timm_model)
    state['head.weight'] = torch.zeros(1, 768)  # the converter wants a head
    state['head.bias'] = torch.zeros(1)
    converted, _ = convert_official_swin(state)
    ours = SwinTransformer('tiny', drop_path_rate=0.)
    ours.load_state_dict(
        {
            k[9:]: v
            for k, v in converted.items() if k.startswith('backbone.')
        },
        strict=False)
    mmseg = MMSegSwin(**FEATURES, drop_path_rate=0., out_indices=(0, 1, 2, 3))
    missing, unexpected = mmseg.load_state_dict(
        swin_to_mmseg(ours.state_dict()), strict=False)
    assert not unexpected and all(
        k.endswith('relative_position_index') for k in missing), missing
    return ours, mmseg, timm_model


def check_same_outputs(ours, mmseg, timm_model, size):
    """Stop unless the three compute the same features."""
    for m in (ours, mmseg, timm_model):
        m.eval()
    x = torch.randn(1, 3, size, size)
    with torch.no_grad():
        a, b, t = ours(x), mmseg(x), timm_model.forward_features(x)
        torch.testing.assert_close(
            a[3], t.permute(0, 3, 1, 2), atol=1e-4, rtol=1e-4)
        # At 224² mmseg shifts the single 7×7 window of the last stage
        # (the official classifier and ours do not): compare stages 0-2
        # there, and all four where every stage exceeds one window.
        for i in range(3):
            torch.testing.assert_close(a[i], b[i], atol=1e-4, rtol=1e-4)
        x = torch.randn(1, 3, 256, 288)
        for u, v in zip(ours(x), mmseg(x)):
            torch.testing.assert_close(u, v, atol=1e-4, rtol=1e-4)
    print(f'outputs agree (ours vs timm: last stage at {size}²; ours vs '
          'mmseg: stages 0-2 at that size, all four at 256×288)')


def time_in_turn(fns: dict, warmup: int, repeats: int, sync=lambda: None):
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    sync()
    times = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            sync()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def proc_status_kib(key: str) -> int:
    with open('/proc/self/status') as f:
        return int(re.search(rf'^{key}:\s+(\d+) kB', f.read(), re.M)[1])


def cpu_peak_bytes(call) -> int:
    """Growth of the resident set's high-water mark over one call."""
    gc.collect()
    # Hands the heap's free pages back, which the next call would otherwise
    # reuse without growing the resident set.
    ctypes.CDLL('libc.so.6').malloc_trim(0)
    before = proc_status_kib('VmRSS')
    with open('/proc/self/clear_refs', 'w') as f:
        f.write('5')  # resets VmHWM to the current resident set
    call()
    return (proc_status_kib('VmHWM') - before) * 1024


def report(title, medians, peaks=None):
    print(f'\n{title}')
    ours = medians['ours']
    for name, median in medians.items():
        line = f'  {name:8s} median {median * 1e3:9.1f} ms'
        if peaks:
            line += f'   peak {peaks[name] / 2**20:8.0f} MiB'
        if name != 'ours':
            line += f'   ratio = {name} / ours = {median / ours:.2f}'
        print(line)


@contextlib.contextmanager
def reference_ops():
    """Run our backbone on the pure-PyTorch references of mmzoo.ops instead of
    the compiled kernels."""
    names = ('window_attention_qkv', 'window_partition', 'window_reverse')
    compiled = {name: getattr(swin, name) for name in names}
    for name in names:
        setattr(swin, name, getattr(mmzoo.ops, f'{name}_reference'))
    try:
        yield
    finally:
        for name, fn in compiled.items():
            setattr(swin, name, fn)


def run_with_reference_ops(model, x):
    with reference_ops():
        return model(x)


def cpu_inference(models, args):
    x = torch.randn(args.batch, 3, args.size, args.size)
    calls = {
        'ours': lambda: models[0](x),
        'mmseg': lambda: models[1](x),
        'timm': lambda: models[2].forward_features(x),
        # the same backbone with mmzoo.ops' pure-PyTorch references
        'ours-ref': lambda: run_with_reference_ops(models[0], x),
    }
    with torch.no_grad():
        medians = time_in_turn(calls, args.warmup, args.repeats)
        peaks = None
        if os.path.exists('/proc/self/clear_refs'):
            # After the timings, which run with the allocator's defaults.
            ctypes.CDLL('libc.so.6').mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)
            peaks = {
                name:
                statistics.median(cpu_peak_bytes(call) for _ in range(3))
                for name, call in calls.items()
            }
    report(
        f'CPU inference, batch {args.batch}, {args.size}², '
        f'{torch.get_num_threads()} threads'
        f'{"; peak: resident-set growth over one call" if peaks else ""}',
        medians, peaks)


def training_step(model, features, x, amp):
    """One training step of ``model`` (moved to x's device) with a new AdamW,
    as mmengine's OptimWrapper, or with float16 autocast and a gradient scaler
    as its AmpOptimWrapper, runs it."""
    model.to(x.device).train()
    optim = torch.optim.AdamW(model.parameters(), lr=1e-4)
    scaler = torch.amp.GradScaler('cuda', enabled=amp)

    def step():
        optim.zero_grad(set_to_none=True)
        with torch.autocast('cuda', torch.float16, enabled=amp):
            loss = sum(o.float().square().mean() for o in features(x))
        scaler.scale(loss).backward()
        scaler.step(optim)
        scaler.update()

    return step


def gpu_peak_alone(model, features, x, amp) -> int:
    """Peak GPU memory of two training steps of ``model`` alone on the GPU (the
    first creates AdamW's state), less what was allocated before (the input
    batch)."""
    gc.collect()
    torch.cuda.empty_cache()
    torch.cuda.synchronize()
    before = torch.cuda.memory_allocated()
    torch.cuda.reset_peak_memory_stats()
    step = training_step(model, features, x, amp)
    step()
    step()
    torch.cuda.synchronize()
    peak = torch.cuda.max_memory_allocated() - before
    del step  # and with it the optimiser's state
    model.zero_grad(set_to_none=True)
    model.cpu()
    gc.collect()
    torch.cuda.empty_cache()
    return peak


def gpu_training(models, args):
    if not torch.cuda.is_available():
        print('\nGPU training step: skipped (no CUDA device)')
        return
    device = torch.device('cuda')
    x = torch.randn(args.gpu_batch, 3, args.size, args.size, device=device)
    names = ('ours', 'mmseg', 'timm')
    # timm's classifier gives its features through forward_features.
    feature_fns = (models[0], models[1],
                   lambda x: [models[2].forward_features(x)])
    # float32, and float16 mixed precision as mmengine's AmpOptimWrapper
    # runs it (autocast plus a gradient scaler).
    for amp in (False, True):
        for model in models:
            model.cpu()
        peaks = {
            name: gpu_peak_alone(model, features, x, amp)
            for name, model, features in zip(names, models, feature_fns)
        }
        calls = {
            name: training_step(model, features, x, amp)
            for name, model, features in zip(names, models, feature_fns)
        }
        medians = time_in_turn(
            calls, args.warmup, args.repeats, sync=torch.cuda.synchronize)
        del calls
        precision = 'float16 autocast' if amp else 'float32'
        report(
            f'GPU training step (forward, backward, AdamW), {precision}, '
            f'batch {args.gpu_batch}, {args.size}², '
            f'{torch.cuda.get_device_name()}; peak: each model alone', medians,
            peaks)


def main():
    parser = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--batch', type=int, default=2)
    parser.add_argument('--size', type=int, default=224)
    parser.add_argument('--repeats', type=int, default=10)
    parser.add_argument('--warmup', type=int, default=3)
    parser.add_argument('--gpu-batch', type=int, default=16)
    args = parser.parse_args()
    torch.set_flush_denormal(True)

    built = extension_loaded()
    print(f'torch {torch.__version__}, Python {platform.python_version()}, '
          f'{platform.processor() or platform.machine()}; mmzoo._ext '
          f'{"built" if built else "NOT built (reference ops)"}')
    # ATEN_CPU_CAPABILITY sets both; ours follows PyTorch's, capped by the
    # CPU.
    print('CPU SIMD level: PyTorch '
          f'{torch.backends.cpu.get_cpu_capability()}, mmzoo '
          f'{torch.ops.mmzoo.cpu_simd_level() if built else "n/a"}')
    print('load average (1, 5, 15 min) at start: %.2f, %.2f, %.2f' %
          os.getloadavg())
    models = build_models()
    check_same_outputs(*models, args.size)
    cpu_inference(models, args)
    gpu_training(models, args)
    print('\nload average (1, 5, 15 min) at end: %.2f, %.2f, %.2f' %
          os.getloadavg())


if __name__ == '__main__':
    main()
