from .window_attention import (window_attention, window_attention_flop_jit,
                               window_attention_reference)
from .window_partition import (shift_window_mask, window_partition,
                               window_partition_reference, window_reverse,
                               window_reverse_reference)

__all__ = [
    'window_partition', 'window_reverse', 'shift_window_mask',
    'window_attention', 'window_attention_flop_jit',
    'window_partition_reference',
    'window_reverse_reference', 'window_attention_reference'
]
