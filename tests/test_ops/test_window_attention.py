"""window_attention against the pure-PyTorch reference (itself checked against
torch's scaled_dot_product_attention) and hand-worked gradients, gradcheck,
opcheck, torch.compile, the fallback warning, the refusal of inputs on other
devices and the CUDA kernel choice."""
import os
import warnings

import pytest
import torch
import torch.nn.functional as F
from torch.library import opcheck

from mmzoo.ops import (_library, compiled_cuda_archs, shift_window_mask,
                       window_attention, window_attention_qkv,
                       window_attention_qkv_reference,
                       window_attention_reference, window_partition,
                       window_reverse)
from mmzoo.ops._library import extension_loaded, has_kernel

# (windows, heads, N, d, nW or None for no mask, with bias)
CASES = [
    (4, 2, 49, 32, 2, True),  # Swin window 7, shifted
    (2, 1, 144, 64, None, False),  # the largest window and head dim
    (3, 3, 16, 8, None, True),
    (6, 2, 9, 5, 3, False),  # odd head dim, mask only
    (2, 2, 1, 1, 1, True),  # one token
    (4, 1, 100, 17, 4, True),
]


def make_inputs(BW,
                heads,
                N,
                d,
                nW,
                with_bias,
                dtype=torch.float32,
                device='cpu',
                seed=0):
    g = torch.Generator().manual_seed(seed)

    def rand(*shape):
        return torch.randn(
            *shape, generator=g, dtype=torch.float64).to(
                device=device, dtype=dtype)

    q, k, v = rand(BW, heads, N, d), rand(BW, heads, N,
                                          d), rand(BW, heads, N, d)
    bias = rand(heads, N, N) if with_bias else None
    mask = None
    if nW:
        # Random 0 / -100 masks that never mask a row entirely (diagonal 0).
        blocked = torch.rand(nW, N, N, generator=g) < 0.5
        blocked[:, torch.arange(N), torch.arange(N)] = False
        mask = (blocked.to(torch.float64) * -100.).to(device, dtype)
    return q, k, v, bias, mask


def forward_backward(fn, q, k, v, bias, mask, grad):
    leaves = [t.detach().clone().requires_grad_() for t in (q, k, v)]
    if bias is not None:
        leaves.append(bias.detach().clone().requires_grad_())
    out = fn(*leaves[:3], leaves[3] if bias is not None else None, mask)
    out.backward(grad)
    return out.detach(), [t.grad for t in leaves]


def test_reference_matches_sdpa():
    q, k, v, bias, mask = make_inputs(4, 2, 49, 32, 2, True, torch.float64)
    attn_mask = bias.unsqueeze(0) + mask.repeat(2, 1, 1).unsqueeze(1)
    expected = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask)
    torch.testing.assert_close(
        window_attention_reference(q, k, v, bias, mask), expected)


def test_extension_is_built():
    assert extension_loaded(), _library._state.get('error')
    for op in ('window_partition', 'window_reverse', 'window_attention_fwd',
               'window_attention_bwd'):
        assert has_kernel(op, 'cpu')
        # CI builds with MMZOO_WITH_CUDA=1, so the CUDA kernels must link.
        if os.environ.get('MMZOO_WITH_CUDA') == '1':
            assert has_kernel(op, 'cuda')
    # The packed op is CPU-only; on GPUs window_attention_qkv splits heads.
    for op in ('window_attention_qkv_fwd', 'window_attention_qkv_bwd'):
        assert has_kernel(op, 'cpu') and not has_kernel(op, 'cuda')


@pytest.mark.parametrize('BW,heads,N,d,nW,with_bias', CASES)
def test_matches_reference_fp32(BW, heads, N, d, nW, with_bias):
    inputs = make_inputs(BW, heads, N, d, nW, with_bias)
    grad = torch.randn(BW, heads, N, d)
    out, grads = forward_backward(window_attention, *inputs, grad)
    out_ref, grads_ref = forward_backward(window_attention_reference, *inputs,
                                          grad)
    torch.testing.assert_close(out, out_ref, atol=2e-5, rtol=1e-4)
    for got, want in zip(grads, grads_ref):
        torch.testing.assert_close(got, want, atol=1e-4, rtol=1e-4)


def test_random_shapes_with_swin_masks():
    g = torch.Generator().manual_seed(1)
    for _ in range(4):
        ws = int(torch.randint(1, 13, (1, ), generator=g))
        d = int(torch.randint(1, 65, (1, ), generator=g))
        heads = int(torch.randint(1, 4, (1, ), generator=g))
        shift = int(torch.randint(0, ws, (1, ), generator=g))
        Hp, Wp = ws * 2, ws * 3
        mask = shift_window_mask(Hp, Wp, ws, shift) if shift else None
        q, k, v, bias, _ = make_inputs(12, heads, ws * ws, d, None, True)
        grad = torch.randn_like(q)
        out, grads = forward_backward(window_attention, q, k, v, bias, mask,
                                      grad)
        out_ref, grads_ref = forward_backward(window_attention_reference, q, k,
                                              v, bias, mask, grad)
        torch.testing.assert_close(out, out_ref, atol=2e-5, rtol=1e-4)
        for got, want in zip(grads, grads_ref):
            torch.testing.assert_close(got, want, atol=1e-4, rtol=1e-4)


def test_slices_of_one_qkv_projection():
    # Swin slices q, k, v out of one (B*nW, N, 3, heads, d) projection; the
    # kernels read those strided rows in place.
    BW, N, heads, d = 6, 49, 3, 16
    qkv = torch.randn(BW, N, 3, heads, d, dtype=torch.float64)
    bias = torch.randn(heads, N, N, dtype=torch.float64)
    mask = shift_window_mask(14, 21, 7, 3).double()
    grad = torch.randn(BW, heads, N, d, dtype=torch.float64)
    results = []
    for fn in (window_attention, window_attention_reference):
        leaf = qkv.clone().requires_grad_()
        q, k, v = leaf.permute(2, 0, 3, 1, 4).unbind(0)
        assert not q.is_contiguous()
        out = fn(q, k, v, bias, mask)
        out.backward(grad)
        results.append((out.detach(), leaf.grad))
    for got, want in zip(*results):
        torch.testing.assert_close(got, want)
    q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)
    opcheck(torch.ops.mmzoo.window_attention_fwd, (q, k, v, bias, mask, 0.5))


def test_custom_scale():
    q, k, v, bias, mask = make_inputs(2, 2, 16, 8, 1, True)
    torch.testing.assert_close(
        window_attention(q, k, v, bias, mask, scale=0.3),
        window_attention_reference(q, k, v, bias, mask, scale=0.3),
        atol=2e-5,
        rtol=1e-4)


@pytest.mark.parametrize('nW,with_bias', [(2, True), (None, False)])
def test_gradcheck(nW, with_bias):
    q, k, v, bias, mask = make_inputs(4, 2, 9, 4, nW, with_bias, torch.float64)
    leaves = [t.requires_grad_() for t in (q, k, v)]
    if with_bias:
        leaves.append(bias.requires_grad_())

    def fn(q, k, v, bias=None):
        return window_attention(q, k, v, bias, mask)

    assert torch.autograd.gradcheck(fn, tuple(leaves))


def test_gradcheck_through_lse():
    # The op's second output (the row log-sum-exp) gets an exact gradient.
    q, k, v, bias, mask = make_inputs(2, 2, 9, 4, 2, True, torch.float64)
    leaves = tuple(t.requires_grad_() for t in (q, k, v, bias))

    def fn(q, k, v, bias):
        return torch.ops.mmzoo.window_attention_fwd(q, k, v, bias, mask, 0.5)

    assert torch.autograd.gradcheck(fn, leaves)


def opcheck_attention(q, k, v, bias, mask):
    """opcheck of the forward op (inputs needing gradients) and of the backward
    op on its outputs."""
    for t in (q, k, v) + ((bias, ) if bias is not None else ()):
        t.requires_grad_()
    opcheck(torch.ops.mmzoo.window_attention_fwd, (q, k, v, bias, mask, 0.5))
    out, lse = torch.ops.mmzoo.window_attention_fwd(q, k, v, bias, mask, 0.5)
    opcheck(torch.ops.mmzoo.window_attention_bwd,
            (torch.randn_like(out), None, q.detach(), k.detach(), v.detach(),
             out.detach(), lse.detach(),
             bias.detach() if bias is not None else None, mask, 0.5))


def test_opcheck():
    for nW, with_bias in [(2, True), (None, False), (1, False)]:
        opcheck_attention(*make_inputs(4, 2, 9, 4, nW, with_bias))


def compiles_like_eager(backend, device='cpu'):
    """One Swin attention step (shifted partition, attention, reverse) gives
    the same outputs and gradients compiled with ``backend`` as in eager."""
    B, H, W, C, heads, ws, shift = 2, 6, 10, 8, 2, 4, 2
    x = torch.randn(B, H, W, C, device=device)
    bias = torch.randn(heads, ws * ws, ws * ws, device=device)
    mask = shift_window_mask(8, 12, ws, shift, device)

    def step(x, bias):
        windows = window_partition(x, ws, shift)
        qkv = windows.view(-1, ws * ws, heads, C // heads).transpose(1, 2)
        out = window_attention(qkv, qkv * 0.5, qkv, bias, mask)
        out = out.transpose(1, 2).reshape(-1, ws * ws, C)
        return window_reverse(out, ws, shift, H, W)

    torch._dynamo.reset()
    compiled = torch.compile(step, fullgraph=True, backend=backend)
    results = []
    for fn in (step, compiled):
        xs, bs = x.clone().requires_grad_(), bias.clone().requires_grad_()
        out = fn(xs, bs)
        out.square().sum().backward()
        results.append((out, xs.grad, bs.grad))
    for eager, traced in zip(*results):
        torch.testing.assert_close(traced, eager)


def test_torch_compile_fullgraph():
    # Inductor compiles C++ on the CPU, ~30 s cold: it is tested on the GPU.
    compiles_like_eager('aot_eager')


def test_fallback_warns_once(monkeypatch):

    def missing():
        raise ImportError('no compiled extension (test)')

    monkeypatch.setattr(_library, '_state', {'loaded': None, 'warned': set()})
    monkeypatch.setattr(_library, '_import_extension', missing)
    q, k, v, bias, mask = make_inputs(4, 2, 16, 8, 2, True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        out = window_attention(q, k, v, bias, mask)
        window_attention(q, k, v, bias, mask)
        window_partition(torch.zeros(1, 4, 4, 2), 2, 1)
    messages = [str(w.message) for w in caught]
    assert len(messages) == 1 and 'mmzoo._ext is not built' in messages[0]
    torch.testing.assert_close(out,
                               window_attention_reference(q, k, v, bias, mask))


@pytest.mark.parametrize('N,d,dtype', [(169, 8, torch.float32),
                                       (16, 80, torch.float32),
                                       (16, 8, torch.float16)])
def test_beyond_kernel_limits_uses_reference(N, d, dtype):
    # Window 13, head dim 80, or half precision on CPU: no compiled kernel,
    # so the reference answers (without a warning: the extension is built).
    q, k, v, bias, mask = make_inputs(2, 1, N, d, 1, True, dtype)
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        out = window_attention(q, k, v, bias, mask)
    assert torch.equal(out, window_attention_reference(q, k, v, bias, mask))


def test_bad_shapes_raise():
    q, k, v, bias, mask = make_inputs(4, 2, 9, 4, 2, True)
    with pytest.raises(ValueError, match='bias of shape'):
        window_attention(q, k, v, bias[:1], mask)
    with pytest.raises(ValueError, match='mask'):
        window_attention(q, k, v, bias, mask[:, :4])
    with pytest.raises(ValueError, match='multiple of'):
        window_attention(q, k, v, bias, torch.zeros(3, 9, 9))
    with pytest.raises(ValueError, match='one shape'):
        window_attention(q, k[:, :1], v)


# ---------------------------------------------------------------- packed qkv


def make_qkv(BW,
             heads,
             N,
             d,
             nW,
             with_bias,
             dtype=torch.float32,
             device='cpu',
             seed=0):
    """qkv (BW, N, 3 * heads * d), as Swin's Linear gives it, plus bias and
    mask as make_inputs draws them."""
    g = torch.Generator().manual_seed(seed)
    qkv = torch.randn(
        BW, N, 3 * heads * d, generator=g,
        dtype=torch.float64).to(device, dtype)
    _, _, _, bias, mask = make_inputs(BW, heads, N, d, nW, with_bias, dtype,
                                      device, seed + 1)
    return qkv, bias, mask


# (windows, heads, N, d, nW or None, with bias)
QKV_CASES = [(4, 3, 49, 32, 2, True), (2, 2, 144, 64, None, True),
             (6, 2, 9, 5, 3, False), (2, 1, 1, 3, 1, True)]


@pytest.mark.parametrize('BW,heads,N,d,nW,with_bias', QKV_CASES)
def test_qkv_matches_reference(BW, heads, N, d, nW, with_bias):
    qkv, bias, mask = make_qkv(BW, heads, N, d, nW, with_bias, torch.float64)
    grad = torch.randn(BW, N, heads * d, dtype=torch.float64)
    results = []
    for fn in (window_attention_qkv, window_attention_qkv_reference):
        leaves = [qkv.clone().requires_grad_()]
        if with_bias:
            leaves.append(bias.clone().requires_grad_())
        out = fn(leaves[0], heads, leaves[1] if with_bias else None, mask)
        out.backward(grad)
        results.append([out.detach()] + [t.grad for t in leaves])
    for got, want in zip(*results):
        torch.testing.assert_close(got, want, atol=1e-10, rtol=1e-10)


def test_qkv_equals_window_attention_on_heads():
    # The packed op is window_attention on q, k, v sliced from qkv, with the
    # heads of the output side by side (float32, compiled on both sides).
    BW, heads, N, d = 6, 3, 49, 16
    qkv, bias, mask = make_qkv(BW, heads, N, d, 3, True)
    q, k, v = qkv.view(BW, N, 3, heads, d).permute(2, 0, 3, 1, 4).unbind(0)
    want = window_attention(q, k, v, bias, mask, 0.3)
    got = window_attention_qkv(qkv, heads, bias, mask, 0.3)
    torch.testing.assert_close(
        got.view(BW, N, heads, d).transpose(1, 2), want, atol=1e-6, rtol=1e-5)


def test_qkv_gradcheck_and_opcheck():
    qkv, bias, mask = make_qkv(3, 2, 9, 4, 3, True, torch.float64)
    leaves = (qkv.requires_grad_(), bias.requires_grad_())

    def fn(qkv, bias):
        return window_attention_qkv(qkv, 2, bias, mask)

    assert torch.autograd.gradcheck(fn, leaves)
    for b in (bias, None):
        opcheck(torch.ops.mmzoo.window_attention_qkv_fwd,
                (qkv, 2, b, mask, 0.5))
        out, lse = torch.ops.mmzoo.window_attention_qkv_fwd(
            qkv, 2, b, mask, 0.5)
        opcheck(
            torch.ops.mmzoo.window_attention_qkv_bwd,
            (torch.randn_like(out), None, qkv.detach(), out.detach(),
             lse.detach(), None if b is None else b.detach(), mask, 2, 0.5))


def qkv_compiles_like_eager(backend, device='cpu'):
    """window_attention_qkv gives the same outputs and gradients compiled with
    ``backend`` as in eager."""
    qkv, bias, mask = make_qkv(4, 2, 16, 8, 2, True, device=device)

    def attend(qkv, bias):
        return window_attention_qkv(qkv, 2, bias, mask)

    torch._dynamo.reset()
    compiled = torch.compile(attend, fullgraph=True, backend=backend)
    results = []
    for fn in (attend, compiled):
        leaves = qkv.clone().requires_grad_(), bias.clone().requires_grad_()
        out = fn(*leaves)
        out.square().sum().backward()
        results.append((out, leaves[0].grad, leaves[1].grad))
    for eager, traced in zip(*results):
        torch.testing.assert_close(traced, eager)


def test_qkv_torch_compile_fullgraph():
    qkv_compiles_like_eager('aot_eager')


def test_qkv_bad_shapes_raise():
    qkv, bias, mask = make_qkv(4, 2, 9, 4, 2, True)
    with pytest.raises(ValueError, match='divisible by num_heads=5'):
        window_attention_qkv(qkv, 5, bias, mask)
    with pytest.raises(ValueError, match='bias of shape'):
        window_attention_qkv(qkv, 2, bias[:1], mask)
    with pytest.raises(RuntimeError, match='qkv must be contiguous'):
        torch.ops.mmzoo.window_attention_qkv_fwd(qkv[:, :, :-1], 2, None, None,
                                                 0.5)


# --------------------------------------------- devices, dtypes, kernel choice


def test_inputs_on_other_devices_raise():
    assert extension_loaded()
    q, k, v, bias, mask = make_inputs(4, 2, 9, 4, 2, True)
    qkv = torch.randn(4, 9, 12)
    meta = {name: t.to('meta') for name, t in dict(k=k, bias=bias).items()}
    with pytest.raises(ValueError, match='bias is on meta but q is on cpu'):
        window_attention(q, k, v, meta['bias'], mask)
    with pytest.raises(ValueError, match='k is on meta but q is on cpu'):
        window_attention(q, meta['k'], v, bias, mask)
    with pytest.raises(ValueError, match='mask is on meta but qkv is on cpu'):
        window_attention_qkv(qkv, 2, bias, mask.to('meta'))
    # The op's own check, for callers of torch.ops.mmzoo: the CPU kernel,
    # reached past the dispatcher (which would pick the meta kernel).
    cpu = torch._C.DispatchKeySet(torch._C.DispatchKey.CPU)
    elsewhere = {
        'bias': (q, k, v, meta['bias'], mask),
        'mask': (q, k, v, bias, mask.to('meta')),
        'k': (q, meta['k'], v, bias, mask),
    }
    for name, args in elsewhere.items():
        with pytest.raises(RuntimeError, match=f'{name} is on meta but q is'):
            torch.ops.mmzoo.window_attention_fwd.default.redispatch(
                cpu, *args, 0.5)


# Inputs of the CUDA kernel choice: (half precision, tiles fit in shared
# memory, GPU's compute capability, architecture of the kernel image the
# driver loads there, MMZOO_WINDOW_ATTENTION_KERNEL) -> kernel.
KERNEL_CHOICES = [
    ((True, True, 90, 90, ''), 'tensor_cores'),  # H100, built for 9.0
    ((True, True, 86, 80, 'auto'), 'tensor_cores'),  # sm_80 code on 8.6
    # An older architecture's code, compiled by the driver for an sm_80+
    # GPU: its tensor-core kernels are empty, so the SIMT ones run.
    ((True, True, 90, 75, ''), 'simt'),
    ((True, True, 80, 70, ''), 'simt'),
    ((True, True, 75, 75, ''), 'simt'),  # Turing
    ((False, True, 90, 90, ''), 'simt'),  # float32
    ((True, False, 90, 90, ''), 'simt'),  # tiles too large
    ((True, True, 90, 90, 'simt'), 'simt'),
    ((True, True, 90, 90, 'tensor_cores'), 'tensor_cores'),
]
KERNEL_REFUSALS = [
    ((True, True, 90, 0, ''), r'7\.5, 8\.0, none of which runs on this GPU '
     r'\(9\.0\); rebuild with TORCH_CUDA_ARCH_LIST="9\.0"'),
    ((False, True, 90, 0, 'simt'), 'none of which runs'),
    ((True, True, 90, 75, 'tensor_cores'), r'compiled for compute capability '
     r'7\.5 .* where they are empty'),
    ((True, True, 75, 75, 'tensor_cores'),
     r'8\.0 or newer, this GPU has 7\.5'),
    ((False, True, 90, 90, 'tensor_cores'), 'float16 and bfloat16 only'),
    ((True, False, 90, 90, 'tensor_cores'), 'shared memory'),
    ((True, True, 90, 90, 'fast'), "must be auto, simt or tensor_cores, got "
     "'fast'"),
]


def test_kernel_choice_for_any_gpu_and_build():
    """The decision the CUDA entry points take (csrc/common/kernel_choice.h),
    for GPUs and builds that this machine need not have."""
    assert extension_loaded()
    choose = torch.ops.mmzoo._choose_attention_kernel
    for (half, fits, device, loaded, request), kernel in KERNEL_CHOICES:
        assert choose(half, fits, device, loaded, '7.5, 8.0',
                      request) == kernel, (half, fits, device, loaded, request)
    for (half, fits, device, loaded, request), message in KERNEL_REFUSALS:
        with pytest.raises(RuntimeError, match=message):
            choose(half, fits, device, loaded, '7.5, 8.0', request)


def parse_arch_list(text):
    """TORCH_CUDA_ARCH_LIST ("8.0;9.0", "7.5 8.0+PTX") as (major, minor) pairs;
    None for named architectures ("Ampere")."""
    archs = set()
    for arch in text.replace(';', ' ').split():
        major, _, minor = arch.replace('+PTX', '').partition('.')
        if not (major.isdigit() and minor[:1].isdigit()):
            return None
        archs.add((int(major), int(minor[:1])))
    return sorted(archs)


def test_compiled_cuda_archs_are_recorded():
    archs = compiled_cuda_archs()
    if not has_kernel('window_attention_fwd', 'cuda'):
        assert archs == ()
        return
    assert archs and all(major >= 5 for major, _ in archs), archs
    # CI builds with TORCH_CUDA_ARCH_LIST set, and runs the tests with it.
    wanted = parse_arch_list(os.environ.get('TORCH_CUDA_ARCH_LIST', ''))
    if wanted:
        assert sorted(archs) == wanted


def uniform_attention_case(device, dtype, windows=64, heads=2, N=16, d=8):
    """q = k = 0 (uniform attention, P = 1/N), v = e_0 on token 0 and 0
    elsewhere, a float32 bias of zeros."""
    q = torch.zeros(windows, heads, N, d, device=device, dtype=dtype)
    v = torch.zeros_like(q)
    v[:, :, 0, 0] = 1
    bias = torch.zeros(heads, N, N, device=device, requires_grad=True)
    return q, q.clone(), v, bias


def expected_uniform_bias_gradient(windows, heads, N, g):
    """Hand-worked bias gradient of uniform_attention_case under an upstream
    gradient of g everywhere: dP_ij = g [j = 0], delta_i = dO_i . O_i = g/N,
    dS_ij = P_ij (dP_ij - delta_i), summed over the windows."""
    dbias = torch.full((heads, N, N), -windows * g / N**2, dtype=torch.float64)
    dbias[:, :, 0] = windows * g / N * (1 - 1 / N)
    return dbias


def check_bias_gradient_keeps_its_dtype(device, dtype):
    """With g = 2^15 (a GradScaler's usual scale), 64 windows of 16 tokens,
    dbias[h, i, 0] = 122880, beyond float16's 65504: the gradient of a
    float32 bias must stay float32 and finite, whatever q's dtype."""
    q, k, v, bias = uniform_attention_case(device, dtype)
    out = window_attention(q, k, v, bias)
    out.backward(torch.full_like(out, 2.0**15))
    assert bias.grad.dtype == torch.float32
    torch.testing.assert_close(
        bias.grad.cpu().double(),
        expected_uniform_bias_gradient(64, 2, 16, 2.0**15),
        rtol=1e-3,
        atol=0)


def test_bias_gradient_keeps_its_dtype():
    check_bias_gradient_keeps_its_dtype('cpu', torch.float32)


cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a GPU')
# (dtype, forward atol, gradient atol) against a float64 reference
CUDA_TOLERANCES = [(torch.float32, 1e-4, 1e-3), (torch.float16, 5e-3, 3e-2),
                   (torch.bfloat16, 3e-2, 2e-1)]

# (dtype, kernel, forward atol, gradient atol): float16 and bfloat16 on both
# kernels, which an sm_80+ GPU would otherwise never run on the SIMT ones.
CUDA_KERNELS = [(torch.float32, 'simt', 1e-4, 1e-3),
                (torch.float16, 'simt', 5e-3, 3e-2),
                (torch.float16, 'tensor_cores', 5e-3, 3e-2),
                (torch.bfloat16, 'simt', 3e-2, 2e-1),
                (torch.bfloat16, 'tensor_cores', 3e-2, 2e-1)]


def use_kernel(monkeypatch, kernel):
    """Runs the CUDA attention on ``kernel`` ('simt' or 'tensor_cores'); the
    ops refuse rather than fall back when tensor cores cannot run."""
    if (kernel == 'tensor_cores'
            and torch.cuda.get_device_capability() < (8, 0)):
        pytest.skip('tensor cores need compute capability 8.0')
    monkeypatch.setenv('MMZOO_WINDOW_ATTENTION_KERNEL', kernel)


def assert_gradient_close(got, want, grad_atol):
    """A GPU gradient against the float64 one; dbias sums over windows, so its
    tolerance grows with its scale."""
    scale = max(1.0, want.abs().max().item())
    torch.testing.assert_close(
        got.cpu().double(), want, atol=grad_atol * scale, rtol=grad_atol)


@cuda
@pytest.mark.parametrize('dtype,kernel,atol,grad_atol', CUDA_KERNELS)
@pytest.mark.parametrize('BW,heads,N,d,nW,with_bias', CASES)
def test_cuda_matches_reference(monkeypatch, dtype, kernel, atol, grad_atol,
                                BW, heads, N, d, nW, with_bias):
    assert has_kernel('window_attention_fwd', 'cuda')
    use_kernel(monkeypatch, kernel)
    inputs = make_inputs(BW, heads, N, d, nW, with_bias, dtype, 'cuda')
    grad = torch.randn(BW, heads, N, d, dtype=torch.float64)
    out, grads = forward_backward(window_attention, *inputs,
                                  grad.to('cuda', dtype))
    ref_inputs = [t.cpu().double() if t is not None else None for t in inputs]
    out_ref, grads_ref = forward_backward(window_attention_reference,
                                          *ref_inputs, grad)
    assert out.dtype == dtype
    torch.testing.assert_close(
        out.cpu().double(), out_ref, atol=atol, rtol=atol)
    for got, want in zip(grads, grads_ref):
        assert got.dtype == dtype
        assert_gradient_close(got, want, grad_atol)


@cuda
def test_cuda_swin_stage_shape():
    # Window 7, 3 heads of 32, shifted mask, enough windows that the bias
    # gradient sums over several blocks' atomics.
    mask = shift_window_mask(56, 56, 7, 3, device='cuda')
    q, k, v, bias, _ = make_inputs(128, 3, 49, 32, None, True, torch.float32,
                                   'cuda')
    grad = torch.randn_like(q)
    out, grads = forward_backward(window_attention, q, k, v, bias, mask, grad)
    out_ref, grads_ref = forward_backward(window_attention_reference, q, k, v,
                                          bias, mask, grad)
    torch.testing.assert_close(out, out_ref, atol=1e-4, rtol=1e-4)
    for got, want in zip(grads, grads_ref):
        torch.testing.assert_close(got, want, atol=2e-3, rtol=1e-3)


@cuda
@pytest.mark.parametrize('dtype,kernel', [(torch.float32, 'simt'),
                                          (torch.float16, 'simt'),
                                          (torch.float16, 'tensor_cores')])
@pytest.mark.parametrize('BW,heads,N,d,nW', [(1600, 2, 49, 32, 16),
                                             (8, 2, 144, 64, 4)])
def test_cuda_bias_gradient_over_many_windows(monkeypatch, dtype, kernel, BW,
                                              heads, N, d, nW):
    # Window 7 with more windows than blocks, so blocks sum the bias
    # gradient of several windows before their atomics; window 12 with the
    # largest head dim, whose bias gradient does not fit in shared memory
    # beside the tiles and goes straight to global atomics.
    use_kernel(monkeypatch, kernel)
    q, k, v, bias, mask = make_inputs(BW, heads, N, d, nW, True, dtype, 'cuda')
    grad = torch.randn(BW, heads, N, d, dtype=torch.float64)
    _, grads = forward_backward(window_attention, q, k, v, bias, mask,
                                grad.to('cuda', dtype))
    ref_inputs = [t.cpu().double() for t in (q, k, v, bias, mask)]
    _, grads_ref = forward_backward(window_attention_reference, *ref_inputs,
                                    grad)
    grad_atol = {t: g for t, _, g in CUDA_TOLERANCES}[dtype]
    for got, want in zip(grads, grads_ref):
        assert_gradient_close(got, want, grad_atol)


@cuda
@pytest.mark.parametrize('dtype', [torch.float32, torch.float16])
def test_cuda_slices_of_one_qkv_projection(dtype):
    # The tensor-core kernels read q, k, v rows in place from Swin's qkv
    # projection, as the CPU kernels do.
    BW, N, heads, d = 8, 49, 3, 32
    qkv = torch.randn(BW, N, 3, heads, d, dtype=torch.float64)
    bias = torch.randn(heads, N, N, dtype=torch.float64)
    mask = shift_window_mask(14, 14, 7, 3).double()
    grad = torch.randn(BW, heads, N, d, dtype=torch.float64)
    results = []
    for fn, device, tdtype in ((window_attention, 'cuda', dtype),
                               (window_attention_reference, 'cpu',
                                torch.float64)):
        leaf = qkv.to(device, tdtype).requires_grad_()
        q, k, v = leaf.permute(2, 0, 3, 1, 4).unbind(0)
        assert not q.is_contiguous()
        out = fn(q, k, v, bias.to(device, tdtype), mask.to(device, tdtype))
        out.backward(grad.to(device, tdtype))
        results.append((out.detach().cpu().double(), leaf.grad.cpu().double()))
    atol = 1e-4 if dtype == torch.float32 else 5e-3
    torch.testing.assert_close(
        results[0][0], results[1][0], atol=atol, rtol=atol)
    torch.testing.assert_close(
        results[0][1], results[1][1], atol=10 * atol, rtol=10 * atol)


@cuda
@pytest.mark.parametrize('dtype',
                         [torch.float32, torch.float16, torch.bfloat16])
def test_cuda_opcheck(dtype):
    for nW, with_bias in [(2, True), (None, False)]:
        opcheck_attention(
            *make_inputs(4, 2, 49, 32, nW, with_bias, dtype, 'cuda'))
    # A float32 bias with half-precision q, k, v, as under autocast.
    q, k, v, bias, mask = make_inputs(4, 2, 49, 32, 2, True, dtype, 'cuda')
    opcheck_attention(q, k, v, bias.float(), mask)
    x = torch.randn(2, 10, 13, 6, device='cuda', dtype=dtype)
    opcheck(torch.ops.mmzoo.window_partition, (x, 4, 2))
    windows = torch.ops.mmzoo.window_partition(x, 4, 2)
    opcheck(torch.ops.mmzoo.window_reverse, (windows, 4, 2, 10, 13))


@cuda
@pytest.mark.parametrize('dtype,atol,grad_atol', CUDA_TOLERANCES)
def test_cuda_qkv_matches_reference(dtype, atol, grad_atol):
    # On the GPU the packed call splits the heads and runs window_attention.
    BW, heads, N, d = 8, 3, 49, 32
    qkv, bias, mask = make_qkv(BW, heads, N, d, 4, True, torch.float64)
    grad = torch.randn(BW, N, heads * d, dtype=torch.float64)
    results = []
    for fn, device, tdtype in ((window_attention_qkv, 'cuda', dtype),
                               (window_attention_qkv_reference, 'cpu',
                                torch.float64)):
        leaves = [t.to(device, tdtype).requires_grad_() for t in (qkv, bias)]
        out = fn(leaves[0], heads, leaves[1], mask.to(device, tdtype))
        out.backward(grad.to(device, tdtype))
        results.append([
            t.detach().cpu().double()
            for t in (out, leaves[0].grad, leaves[1].grad)
        ])
    (out, dqkv, dbias), (out_ref, dqkv_ref, dbias_ref) = results
    torch.testing.assert_close(out, out_ref, atol=atol, rtol=atol)
    assert_gradient_close(dqkv, dqkv_ref, grad_atol)
    assert_gradient_close(dbias, dbias_ref, grad_atol)


@cuda
@pytest.mark.parametrize('dtype,kernel', [(torch.float16, 'simt'),
                                          (torch.float16, 'tensor_cores'),
                                          (torch.bfloat16, 'simt'),
                                          (torch.bfloat16, 'tensor_cores')])
def test_cuda_bias_gradient_keeps_its_dtype(monkeypatch, dtype, kernel):
    use_kernel(monkeypatch, kernel)
    check_bias_gradient_keeps_its_dtype('cuda', dtype)


@cuda
@pytest.mark.parametrize('dtype,kernel,atol,grad_atol', CUDA_KERNELS[1:])
def test_cuda_bias_gradient_under_autocast(monkeypatch, dtype, kernel, atol,
                                           grad_atol):
    """Swin under autocast: q, k, v in half precision (the qkv Linear's
    output), the relative position bias a float32 parameter, which autocast
    leaves alone.

    Its gradient, on its own: float32, and the float64 reference's on the same
    inputs.
    """
    use_kernel(monkeypatch, kernel)
    BW, heads, N, d, nW = 64, 3, 49, 32, 4
    q, k, v, bias, mask = make_inputs(BW, heads, N, d, nW, True, torch.float32,
                                      'cuda')
    grad = torch.randn(BW, heads, N, d, dtype=torch.float64)
    bias = bias.requires_grad_()
    with torch.autocast('cuda', dtype=dtype):
        out = window_attention(
            q.to(dtype), k.to(dtype), v.to(dtype), bias, mask)
    out.backward(grad.to('cuda', out.dtype))
    ref_bias = bias.detach().cpu().double().requires_grad_()
    window_attention_reference(
        *(t.to(dtype).cpu().double() for t in (q, k, v)), ref_bias,
        mask.cpu().double()).backward(grad)
    assert out.dtype == dtype and bias.grad.dtype == torch.float32
    assert_gradient_close(bias.grad, ref_bias.grad, grad_atol)


@cuda
def test_cuda_inputs_on_other_devices_raise():
    """The kernels would read host pointers: each op names the tensor that is
    elsewhere, saved tensors of the backward included."""
    assert extension_loaded()
    q, k, v, bias, mask = make_inputs(4, 2, 9, 4, 2, True, torch.float32,
                                      'cuda')
    fwd, bwd = (torch.ops.mmzoo.window_attention_fwd,
                torch.ops.mmzoo.window_attention_bwd)
    with pytest.raises(RuntimeError, match='bias is on cpu but q is on cuda'):
        fwd(q, k, v, bias.cpu(), mask, 0.5)
    with pytest.raises(RuntimeError, match='mask is on cpu but q is on cuda'):
        fwd(q, k, v, bias, mask.cpu(), 0.5)
    out, lse = fwd(q, k, v, bias, mask, 0.5)
    args = dict(
        grad_out=torch.randn_like(out),
        grad_lse=torch.randn_like(lse),
        q=q,
        k=k,
        v=v,
        out=out,
        lse=lse,
        bias=bias,
        mask=mask)
    for name in ('grad_out', 'grad_lse', 'k', 'out', 'lse', 'bias'):
        moved = dict(args, **{name: args[name].cpu()})
        with pytest.raises(RuntimeError, match=f'{name} is on cpu but q is'):
            bwd(*moved.values(), 0.5)


@cuda
def test_cuda_grid_limits_raise():
    """Past CUDA's grid limits (2^31 - 1 blocks along x, 65535 along y) the
    ops refuse, naming the shape, rather than launch a truncated grid."""
    assert extension_loaded()
    one = torch.zeros(1, 1, 1, 1, device='cuda', dtype=torch.float16)
    q = one.expand(2**31, 1, 1, 1)  # one block per (window, head)
    message = (r"\[2147483648, 1, 1, 1\] needs a grid of 2147483648 x 1 "
               "blocks, beyond CUDA's")
    with pytest.raises(RuntimeError, match=message):
        torch.ops.mmzoo.window_attention_fwd(q, q, q, None, None, 1.0)
    # The backward's grid has the heads along y.
    q = torch.randn(1, 65536, 1, 1, device='cuda', dtype=torch.float16)
    out, lse = torch.ops.mmzoo.window_attention_fwd(q, q, q, None, None, 1.0)
    with pytest.raises(RuntimeError, match='x 65536 blocks, beyond'):
        torch.ops.mmzoo.window_attention_bwd(out, None, q, q, q, out, lse,
                                             None, None, 1.0)


@cuda
def test_cuda_loaded_code_is_the_best_compiled_match():
    """The driver loads, of the compiled architectures, the newest of the GPU's
    major version that is not newer than the GPU; the kernel choice reads that
    architecture back (cudaFuncGetAttributes' ptxVersion)."""
    archs = [10 * major + minor for major, minor in compiled_cuda_archs()]
    major, minor = torch.cuda.get_device_capability()
    device = 10 * major + minor
    binaries = [a for a in archs if a // 10 == major and a <= device]
    loaded = torch.ops.mmzoo._loaded_cuda_arch(torch.cuda.current_device())
    if binaries:
        assert loaded == max(binaries), (archs, device)
    else:  # only PTX of an older architecture could run here
        assert loaded in archs + [0] and loaded <= device, (archs, device)


@cuda
@pytest.mark.parametrize(
    'check', [compiles_like_eager, qkv_compiles_like_eager],
    ids=['step', 'qkv'])
def test_cuda_torch_compile_inductor(check):
    check('inductor', 'cuda')
