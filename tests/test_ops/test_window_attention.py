"""window_attention against the pure-PyTorch reference (itself checked against
torch's scaled_dot_product_attention), gradcheck, opcheck, torch.compile
tracing and the fallback warning."""
import os
import warnings

import pytest
import torch
import torch.nn.functional as F
from torch.library import opcheck

from mmzoo.ops import (_library, shift_window_mask, window_attention,
                       window_attention_qkv, window_attention_qkv_reference,
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


def test_torch_compile_fullgraph():
    # One Swin attention step: shifted partition, attention, reverse.
    B, H, W, C, heads, ws, shift = 2, 6, 10, 8, 2, 4, 2
    x = torch.randn(B, H, W, C)
    bias = torch.randn(heads, ws * ws, ws * ws)
    mask = shift_window_mask(8, 12, ws, shift)

    def step(x, bias):
        windows = window_partition(x, ws, shift)
        qkv = windows.view(-1, ws * ws, heads, C // heads).transpose(1, 2)
        out = window_attention(qkv, qkv * 0.5, qkv, bias, mask)
        out = out.transpose(1, 2).reshape(-1, ws * ws, C)
        return window_reverse(out, ws, shift, H, W)

    compiled = torch.compile(step, fullgraph=True, backend='aot_eager')
    results = []
    for fn in (step, compiled):
        xs, bs = x.clone().requires_grad_(), bias.clone().requires_grad_()
        out = fn(xs, bs)
        out.square().sum().backward()
        results.append((out, xs.grad, bs.grad))
    for eager, traced in zip(*results):
        torch.testing.assert_close(traced, eager)


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


def test_qkv_torch_compile_fullgraph():
    qkv, bias, mask = make_qkv(4, 2, 16, 8, 2, True)

    def attend(qkv, bias):
        return window_attention_qkv(qkv, 2, bias, mask)

    compiled = torch.compile(attend, fullgraph=True, backend='aot_eager')
    results = []
    for fn in (attend, compiled):
        leaves = qkv.clone().requires_grad_(), bias.clone().requires_grad_()
        out = fn(*leaves)
        out.square().sum().backward()
        results.append((out, leaves[0].grad, leaves[1].grad))
    for eager, traced in zip(*results):
        torch.testing.assert_close(traced, eager)


def test_qkv_bad_shapes_raise():
    qkv, bias, mask = make_qkv(4, 2, 9, 4, 2, True)
    with pytest.raises(ValueError, match='divisible by num_heads=5'):
        window_attention_qkv(qkv, 5, bias, mask)
    with pytest.raises(ValueError, match='bias of shape'):
        window_attention_qkv(qkv, 2, bias[:1], mask)
    with pytest.raises(RuntimeError, match='qkv must be contiguous'):
        torch.ops.mmzoo.window_attention_qkv_fwd(qkv[:, :, :-1], 2, None, None,
                                                 0.5)


cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a GPU')
# (dtype, forward atol, gradient atol) against a float64 reference
CUDA_TOLERANCES = [(torch.float32, 1e-4, 1e-3), (torch.float16, 5e-3, 3e-2),
                   (torch.bfloat16, 3e-2, 2e-1)]


def assert_gradient_close(got, want, grad_atol):
    """A GPU gradient against the float64 one; dbias sums over windows, so its
    tolerance grows with its scale."""
    scale = max(1.0, want.abs().max().item())
    torch.testing.assert_close(
        got.cpu().double(), want, atol=grad_atol * scale, rtol=grad_atol)


@cuda
@pytest.mark.parametrize('dtype,atol,grad_atol', CUDA_TOLERANCES)
@pytest.mark.parametrize('BW,heads,N,d,nW,with_bias', CASES)
def test_cuda_matches_reference(dtype, atol, grad_atol, BW, heads, N, d, nW,
                                with_bias):
    assert has_kernel('window_attention_fwd', 'cuda')
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
@pytest.mark.parametrize('dtype', [torch.float32, torch.float16])
@pytest.mark.parametrize('BW,heads,N,d,nW', [(1600, 2, 49, 32, 16),
                                             (8, 2, 144, 64, 4)])
def test_cuda_bias_gradient_over_many_windows(dtype, BW, heads, N, d, nW):
    # Window 7 with more windows than blocks, so blocks sum the bias
    # gradient of several windows before their atomics; window 12 with the
    # largest head dim, whose bias gradient does not fit in shared memory
    # beside the tiles and goes straight to global atomics.
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
