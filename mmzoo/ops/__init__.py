from ._library import compiled_cuda_archs
from .window_attention import (WINDOW_ATTENTION_OPS, window_attention,
                               window_attention_flop_jit, window_attention_qkv,
                               window_attention_qkv_reference,
                               window_attention_reference)
from .window_partition import (shift_window_mask, window_partition,
                               window_partition_reference, window_reverse,
                               window_reverse_reference)

__all__ = [
    'window_partition', 'window_reverse', 'shift_window_mask',
    'window_attention', 'window_attention_qkv', 'window_attention_flop_jit',
    'WINDOW_ATTENTION_OPS', 'window_partition_reference',
    'window_reverse_reference', 'window_attention_reference',
    'window_attention_qkv_reference', 'compiled_cuda_archs'
]
