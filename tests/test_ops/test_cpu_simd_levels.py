"""The CPU attention kernels run at PyTorch's SIMD level (ATEN_CPU_CAPABILITY
switches both) and compute the pure-PyTorch reference's attention at every
level the machine has."""
import os
import platform
import subprocess
import sys

import pytest
import torch

from mmzoo.ops import (shift_window_mask, window_attention_qkv_reference,
                       window_attention_reference)
from mmzoo.ops._library import extension_loaded

# torch.backends.cpu.get_cpu_capability()'s names, lowest first, and the
# ATEN_CPU_CAPABILITY value that asks for each.
LEVELS = {'DEFAULT': 'default', 'AVX2': 'avx2', 'AVX512': 'avx512'}

# Runs the compiled ops on saved inputs in a fresh interpreter, where
# ATEN_CPU_CAPABILITY takes effect; it loads the extension's library alone
# (no mmzoo, mmcv or mmengine imports) to start quickly.
WORKER = r'''
import sys
import torch
library, path = sys.argv[1:]
torch.ops.load_library(library)
ops = torch.ops.mmzoo
cases, qkv_case = torch.load(path)
results = {'levels': (torch.backends.cpu.get_cpu_capability(),
                      ops.cpu_simd_level()), 'cases': []}
for q, k, v, bias, mask, grad in cases:
    out, lse = ops.window_attention_fwd(q, k, v, bias, mask, 0.3)
    grads = ops.window_attention_bwd(grad, None, q, k, v, out, lse, bias,
                                     mask, 0.3)
    results['cases'].append((out, grads))
qkv, heads, bias, mask = qkv_case
results['qkv'] = ops.window_attention_qkv_fwd(qkv, heads, bias, mask, 0.3)[0]
torch.save(results, path)
'''


def make_cases():
    """Swin-T's stage-1 block (d = 32, the kernels' vector path at every
    width), the largest window and head dim (several tiles per row), an odd
    head dim (the BLAS path), and a packed qkv of Swin's shape."""
    g = torch.Generator().manual_seed(0)
    cases = []
    for BW, heads, N, d, side in [(8, 3, 49, 32, 14), (2, 1, 144, 64, None),
                                  (6, 2, 9, 5, None)]:
        q, k, v, grad = (
            torch.randn(BW, heads, N, d, generator=g) for _ in range(4))
        bias = torch.randn(heads, N, N, generator=g)
        mask = shift_window_mask(side, side, 7, 3) if side else None
        cases.append((q, k, v, bias, mask, grad))
    qkv = torch.randn(8, 49, 3 * 96, generator=g)
    qkv_case = (qkv, 3, torch.randn(3, 49, 49, generator=g),
                shift_window_mask(14, 14, 7, 3))
    return cases, qkv_case


def check_against_reference(results, cases, qkv_case):
    for case, (out, grads) in zip(cases, results['cases']):
        *tensors, mask, grad = case
        leaves = [t.double().requires_grad_() for t in tensors]
        if mask is not None:
            mask = mask.double()
        want = window_attention_reference(*leaves, mask, 0.3)
        want.backward(grad.double())
        torch.testing.assert_close(out, want.float(), atol=2e-5, rtol=1e-4)
        for got, leaf in zip(grads, leaves):
            torch.testing.assert_close(
                got, leaf.grad.float(), atol=1e-4, rtol=1e-4)
    qkv, heads, bias, mask = qkv_case
    want = window_attention_qkv_reference(qkv.double(), heads, bias.double(),
                                          mask.double(), 0.3)
    torch.testing.assert_close(
        results['qkv'], want.float(), atol=2e-5, rtol=1e-4)


@pytest.mark.skipif(
    not extension_loaded() or platform.machine() != 'x86_64',
    reason='the levels are x86 ones; needs mmzoo._ext')
def test_each_level_matches_reference(tmp_path):
    from mmzoo import _ext
    cases, qkv_case = make_cases()
    here = torch.backends.cpu.get_cpu_capability()
    assert torch.ops.mmzoo.cpu_simd_level() == here
    # This process's level in place, each lower one in its own interpreter
    # (in parallel: each takes a second or two, most of it importing torch).
    workers = {}
    for name, env_value in LEVELS.items():
        if name == here:
            break
        path = tmp_path / f'{env_value}.pt'
        torch.save((cases, qkv_case), path)
        command = [sys.executable, '-c', WORKER, _ext.__file__, str(path)]
        env = dict(os.environ, ATEN_CPU_CAPABILITY=env_value)
        workers[name] = (path,
                         subprocess.Popen(
                             command,
                             env=env,
                             stderr=subprocess.PIPE,
                             text=True))
    assert here in LEVELS and len(workers) == list(LEVELS).index(here)

    ops = torch.ops.mmzoo
    results = {'cases': []}
    for q, k, v, bias, mask, grad in cases:
        out, lse = ops.window_attention_fwd(q, k, v, bias, mask, 0.3)
        results['cases'].append(
            (out,
             ops.window_attention_bwd(grad, None, q, k, v, out, lse, bias,
                                      mask, 0.3)))
    results['qkv'] = ops.window_attention_qkv_fwd(*qkv_case, 0.3)[0]
    check_against_reference(results, cases, qkv_case)

    for name, (path, worker) in workers.items():
        _, stderr = worker.communicate(timeout=120)
        assert worker.returncode == 0, stderr
        results = torch.load(path)
        # Both PyTorch and the kernels switched.
        assert results['levels'] == (name, name)
        check_against_reference(results, cases, qkv_case)
