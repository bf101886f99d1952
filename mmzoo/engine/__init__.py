from .checkpoint import (MMENGINE_SAFE_GLOBALS, UnsafeCheckpointError,
                         load_checkpoint_file)
from .hooks import RNGStateHook

__all__ = [
    'MMENGINE_SAFE_GLOBALS', 'UnsafeCheckpointError', 'load_checkpoint_file',
    'RNGStateHook'
]
