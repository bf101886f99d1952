"""Loads the compiled ``mmzoo._ext`` and gives its ops fake kernels and
autograd, so they trace under ``torch.compile``.

The C++ side defines the schemas (``TORCH_LIBRARY(mmzoo, m)``) and the CPU and
CUDA kernels; everything that needs Python lives here.
"""
import warnings

import torch

# Sizes the kernels keep in registers/shared memory (N = window_size ** 2).
MAX_TOKENS = 144
MAX_HEAD_DIM = 64

_ATTENTION_DTYPES = {
    'cpu': (torch.float32, torch.float64),
    'cuda': (torch.float32, torch.float16, torch.bfloat16),
}
_DISPATCH_KEYS = {'cpu': 'CPU', 'cuda': 'CUDA'}

_state = {'loaded': None, 'warned': set()}


def _import_extension() -> None:
    from mmzoo import _ext  # noqa: F401  (registers torch.ops.mmzoo.*)


def _warn_once(key: str, message: str) -> None:
    if key not in _state['warned']:
        _state['warned'].add(key)
        warnings.warn(message, stacklevel=3)


def extension_loaded() -> bool:
    """Whether ``mmzoo._ext`` is importable; imports it on first call."""
    if _state['loaded'] is None:
        try:
            _import_extension()
        except ImportError as error:
            _state['loaded'] = False
            _state['error'] = error
        else:
            _register_python_parts()
            _state['kernels'] = _find_kernels()
            _state['loaded'] = True
    return _state['loaded']


_OPS = ('window_partition', 'window_reverse', 'window_attention_fwd',
        'window_attention_bwd', 'window_attention_qkv_fwd',
        'window_attention_qkv_bwd')


def _find_kernels() -> dict:
    # Asked once at load time: torch.compile cannot trace the query itself.
    return {
        (op, device):
        torch._C._dispatch_has_kernel_for_dispatch_key(f'mmzoo::{op}', key)
        for op in _OPS
        for device, key in _DISPATCH_KEYS.items()
    }


def has_kernel(op: str, device_type: str) -> bool:
    """Whether ``mmzoo::op`` has a compiled kernel for ``device_type``."""
    return extension_loaded() and _state['kernels'].get(
        (op, device_type), False)


def compiled_cuda_archs() -> tuple:
    """The compute capabilities whose code ``mmzoo._ext``'s CUDA kernels hold,
    as ``(major, minor)`` pairs like ``torch.cuda.get_device_capability()``
    gives (``((8, 0), (9, 0))`` for ``TORCH_CUDA_ARCH_LIST="8.0;9.0"``); empty
    when the extension has no CUDA kernels.

    nvcc records the list at build time. On a GPU, the tensor-core kernels run
    only where the loaded code was compiled for 8.0 or newer; else the other
    kernels do, or, when no listed architecture runs on the GPU, the ops
    refuse, naming this list.
    """
    if not has_kernel('window_attention_fwd', 'cuda'):
        return ()
    return tuple(
        divmod(int(arch), 10)
        for arch in torch.ops.mmzoo._compiled_cuda_archs())


def extension_supports(op: str, x: torch.Tensor) -> bool:
    """Whether the compiled ``op`` handles ``x``'s device and dtype.

    Warns once when the reference must stand in because the extension (or its
    CUDA part) was not built; unsupported dtypes fall back silently.
    """
    if not extension_loaded():
        _warn_once(
            'ext', 'mmzoo._ext is not built ('
            f"{_state['error']}); mmzoo.ops uses the slower pure-PyTorch "
            'reference. Reinstall with `pip install --no-build-isolation -e .`'
            ' to build it.')
        return False
    device = x.device.type
    if op == 'window_attention_qkv':
        # A kernel of its own on CPU only; elsewhere window_attention_qkv
        # splits the heads and runs window_attention (compiled or not).
        return (has_kernel('window_attention_qkv_fwd', device)
                and x.dtype in _ATTENTION_DTYPES.get(device, ()))
    kernel_op = 'window_attention_fwd' if op == 'window_attention' else op
    if not has_kernel(kernel_op, device):
        if device == 'cuda':
            _warn_once(
                'cuda', 'mmzoo._ext was built without CUDA kernels; mmzoo.ops'
                ' uses the pure-PyTorch reference on GPU.')
        return False
    if op == 'window_attention':
        return x.dtype in _ATTENTION_DTYPES.get(device, ())
    return x.is_floating_point()


def _partition_setup(ctx, inputs, output) -> None:
    x, ctx.window_size, ctx.shift_size = inputs
    ctx.H, ctx.W = x.shape[1], x.shape[2]


def _partition_backward(ctx, grad):
    return torch.ops.mmzoo.window_reverse(grad.contiguous(), ctx.window_size,
                                          ctx.shift_size, ctx.H,
                                          ctx.W), None, None


def _reverse_setup(ctx, inputs, output) -> None:
    _, ctx.window_size, ctx.shift_size, _, _ = inputs


def _reverse_backward(ctx, grad):
    windows = torch.ops.mmzoo.window_partition(grad.contiguous(),
                                               ctx.window_size, ctx.shift_size)
    return windows, None, None, None, None


def _attention_setup(ctx, inputs, output) -> None:
    q, k, v, bias, mask, ctx.scale = inputs
    out, lse = output
    ctx.has_bias = bias is not None
    ctx.save_for_backward(q, k, v, out, lse, bias, mask)


def _attention_backward(ctx, grad_out, grad_lse):
    q, k, v, out, lse, bias, mask = ctx.saved_tensors
    if grad_lse is not None:
        grad_lse = grad_lse.contiguous()
    dq, dk, dv, dbias = torch.ops.mmzoo.window_attention_bwd(
        grad_out.contiguous(), grad_lse, q, k, v, out, lse, bias, mask,
        ctx.scale)
    return dq, dk, dv, dbias if ctx.has_bias else None, None, None


def _qkv_attention_setup(ctx, inputs, output) -> None:
    qkv, ctx.heads, bias, mask, ctx.scale = inputs
    out, lse = output
    ctx.has_bias = bias is not None
    ctx.save_for_backward(qkv, out, lse, bias, mask)


def _qkv_attention_backward(ctx, grad_out, grad_lse):
    qkv, out, lse, bias, mask = ctx.saved_tensors
    if grad_lse is not None:
        grad_lse = grad_lse.contiguous()
    dqkv, dbias = torch.ops.mmzoo.window_attention_qkv_bwd(
        grad_out.contiguous(), grad_lse, qkv, out, lse, bias, mask, ctx.heads,
        ctx.scale)
    return dqkv, None, dbias if ctx.has_bias else None, None, None


def _register_python_parts() -> None:
    lib = torch.library

    @lib.register_fake('mmzoo::window_partition')
    def _(x, window_size, shift_size):
        B, H, W, C = x.shape
        n_h = -(-H // window_size)
        n_w = -(-W // window_size)
        return x.new_empty(B * n_h * n_w, window_size * window_size, C)

    @lib.register_fake('mmzoo::window_reverse')
    def _(windows, window_size, shift_size, H, W):
        n_h = -(-H // window_size)
        n_w = -(-W // window_size)
        B = windows.shape[0] // (n_h * n_w)
        return windows.new_empty(B, H, W, windows.shape[2])

    @lib.register_fake('mmzoo::window_attention_fwd')
    def _(q, k, v, bias, mask, scale):
        lse_dtype = torch.float64 if q.dtype == torch.float64 else \
            torch.float32
        return q.new_empty(q.shape), q.new_empty(q.shape[:3], dtype=lse_dtype)

    @lib.register_fake('mmzoo::window_attention_bwd')
    def _(grad_out, grad_lse, q, k, v, out, lse, bias, mask, scale):
        dbias = torch.empty_like(bias) if bias is not None else q.new_empty(0)
        return (q.new_empty(q.shape), q.new_empty(q.shape),
                q.new_empty(q.shape), dbias)

    @lib.register_fake('mmzoo::window_attention_qkv_fwd')
    def _(qkv, heads, bias, mask, scale):
        BW, N, C3 = qkv.shape
        lse_dtype = torch.float64 if qkv.dtype == torch.float64 else \
            torch.float32
        return (qkv.new_empty(BW, N, C3 // 3),
                qkv.new_empty(BW, heads, N, dtype=lse_dtype))

    @lib.register_fake('mmzoo::window_attention_qkv_bwd')
    def _(grad_out, grad_lse, qkv, out, lse, bias, mask, heads, scale):
        dbias = torch.empty_like(bias) if bias is not None else \
            qkv.new_empty(0)
        return qkv.new_empty(qkv.shape), dbias

    lib.register_autograd(
        'mmzoo::window_partition',
        _partition_backward,
        setup_context=_partition_setup)
    lib.register_autograd(
        'mmzoo::window_reverse',
        _reverse_backward,
        setup_context=_reverse_setup)
    lib.register_autograd(
        'mmzoo::window_attention_fwd',
        _attention_backward,
        setup_context=_attention_setup)
    lib.register_autograd(
        'mmzoo::window_attention_qkv_fwd',
        _qkv_attention_backward,
        setup_context=_qkv_attention_setup)
