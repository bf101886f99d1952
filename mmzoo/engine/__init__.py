from .checkpoint import (MMENGINE_SAFE_GLOBALS, UnsafeCheckpointError,
                         install_checkpoint_safety, load_checkpoint_file)
from .hooks import RNGStateHook

__all__ = [
    'MMENGINE_SAFE_GLOBALS', 'UnsafeCheckpointError',
    'install_checkpoint_safety', 'load_checkpoint_file', 'RNGStateHook'
]
