from .checkpoint import (MMENGINE_SAFE_GLOBALS, CheckpointError,
                         CheckpointMismatchError, CorruptCheckpointError,
                         NotResumableError, UnsafeCheckpointError,
                         check_state_dict, find_resumable_checkpoint,
                         init_model, install_checkpoint_safety,
                         load_checkpoint_file, remove_stale_partials)
from .checkpoint_hook import AtomicCheckpointHook
from .cpu_distributed import CPUDistributedDataParallel, setup_cpu_distributed
from .hooks import RNGStateHook
from .runner import MMZooRunner, SampleError
from .vis_backend import AtomicLocalVisBackend

__all__ = [
    'MMENGINE_SAFE_GLOBALS', 'CheckpointError', 'CheckpointMismatchError',
    'CorruptCheckpointError', 'NotResumableError', 'UnsafeCheckpointError',
    'check_state_dict', 'find_resumable_checkpoint', 'init_model',
    'install_checkpoint_safety', 'load_checkpoint_file',
    'remove_stale_partials', 'AtomicCheckpointHook',
    'CPUDistributedDataParallel', 'setup_cpu_distributed', 'RNGStateHook',
    'MMZooRunner', 'SampleError', 'AtomicLocalVisBackend'
]
