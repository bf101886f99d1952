"""Safe loading and atomic saving of mmengine checkpoints.

torch >= 2.6 loads with ``weights_only=True`` by default, and mmengine 0.10.7
calls ``torch.load`` without saying otherwise, so resuming fails on the
non-tensor objects mmengine itself writes (the message hub's history
buffers hold numpy arrays). Rather than turning safe loading off, we load
local checkpoints with an allow-list of exactly those objects, scoped to the
call, and refuse anything else with an error that names the file and the
objects at fault.

:func:`install_checkpoint_safety` installs both pieces into mmengine: the
loader for local paths (``CheckpointLoader``'s default scheme) and an atomic
local file backend, so a run killed while saving never leaves a truncated
checkpoint or ``last_checkpoint`` behind. Both are process-wide, so nothing
installs them on import: our tools call the function, and a user's config
opts in by importing :mod:`mmzoo.engine.checkpoint_safety`.
"""
import os.path as osp
import pickle
from typing import Any, Callable, List, Optional, Union

import numpy as np
import torch
from mmengine.fileio import LocalBackend
from mmengine.fileio import io as fileio_io
from mmengine.fileio import register_backend
from mmengine.logging.history_buffer import HistoryBuffer
from mmengine.runner import CheckpointLoader

from mmzoo.utils.fileio import atomic_write_bytes


def _numpy_globals() -> List[Any]:
    """The numpy objects that pickled arrays and random states refer to."""
    try:
        from numpy._core.multiarray import _reconstruct, scalar
    except ImportError:  # numpy < 2
        from numpy.core.multiarray import _reconstruct, scalar
    dtype_classes = [
        type(np.dtype(t))
        for t in (np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8,
                  np.uint16, np.uint32, np.uint64, np.float16, np.float32,
                  np.float64)
    ]
    return [_reconstruct, scalar, np.ndarray, np.dtype, *dtype_classes]


def _history_buffer_method(obj: Any, name: str) -> Any:
    """The one use of ``getattr`` in mmengine's checkpoints.

    A pickled HistoryBuffer refers to its statistics methods as
    ``getattr(HistoryBuffer, 'mean')``. Allowing ``builtins.getattr`` itself
    would let a checkpoint reach any attribute of any allowed object, so the
    name is mapped to this function, which resolves only those methods.
    """
    # The built-in statistics exist before any buffer registers them;
    # custom ones are registered by the code that defines them.
    statistics = {
        'min', 'max', 'current', 'mean', *HistoryBuffer._statistics_methods
    }
    if obj is HistoryBuffer and name in statistics:
        return getattr(HistoryBuffer, name)
    raise pickle.UnpicklingError(
        f'getattr({getattr(obj, "__name__", type(obj).__name__)}, {name!r}) '
        'is not part of an mmengine checkpoint')


# What mmengine 0.10.7's Runner.save_checkpoint writes besides tensors and
# plain containers: MessageHub history buffers (numpy arrays and references
# to their statistics methods), numpy scalars in runtime info, and numpy
# random states from RNGStateHook.
MMENGINE_SAFE_GLOBALS = [
    HistoryBuffer, (_history_buffer_method, 'builtins.getattr'),
    *_numpy_globals()
]


def _global_name(entry) -> str:
    if isinstance(entry, tuple):
        return entry[1]
    return f'{entry.__module__}.{entry.__qualname__}'


class UnsafeCheckpointError(pickle.UnpicklingError):
    """A checkpoint holds pickled objects outside mmengine's format."""


def _unsafe_globals(filename: str) -> List[str]:
    allowed = {_global_name(g) for g in MMENGINE_SAFE_GLOBALS}
    try:
        found = torch.serialization.get_unsafe_globals_in_checkpoint(filename)
    except Exception:  # legacy (non-zip) files cannot be inspected
        return []
    return [name for name in found if name not in allowed]


def load_checkpoint_file(
        filename: str,
        map_location: Optional[Union[str, Callable,
                                     torch.device]] = None) -> Any:
    """Load a local checkpoint with ``weights_only=True``.

    Args:
        filename (str): Path of the checkpoint.
        map_location: As for :func:`torch.load`.

    Raises:
        FileNotFoundError: If ``filename`` does not exist.
        UnsafeCheckpointError: If the file pickles objects other than
            tensors, plain containers and what mmengine writes.
    """
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'{filename} can not be found.')
    try:
        with torch.serialization.safe_globals(MMENGINE_SAFE_GLOBALS):
            return torch.load(
                filename, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        unsafe = _unsafe_globals(filename)
        found = ', '.join(unsafe) if unsafe else str(e).splitlines()[0]
        raise UnsafeCheckpointError(
            f'Refusing to load {filename}: it pickles objects that are not '
            f'part of an mmengine checkpoint ({found}). mmzoo loads '
            'checkpoints with torch.load(weights_only=True) so that a '
            'checkpoint cannot run code. If you trust the file, re-save its '
            'tensors as a plain state dict.') from e


class AtomicLocalBackend(LocalBackend):
    """mmengine's local backend, writing through a temporary file."""

    def put(self, obj: bytes, filepath) -> None:
        atomic_write_bytes(obj, filepath)

    def put_text(self, obj: str, filepath, encoding: str = 'utf-8') -> None:
        atomic_write_bytes(obj.encode(encoding), filepath)


def install_checkpoint_safety() -> None:
    """Make mmengine load local checkpoints safely and write files atomically,
    for the rest of the process.

    Replaces mmengine's loader of local paths with
    :func:`load_checkpoint_file` (``weights_only=True`` with an allow-list
    of what mmengine itself writes) and its local file backend with
    :class:`AtomicLocalBackend`. Calling it again changes nothing.
    ``tools/train.py``, ``tools/test.py`` and ``tools/infer_cd.py`` call it;
    a config takes the same step with
    ``custom_imports = dict(imports=['mmzoo.engine.checkpoint_safety'])``.
    """
    CheckpointLoader.register_scheme(
        prefixes='', force=True)(
            load_checkpoint_file)
    register_backend('local', AtomicLocalBackend, force=True, prefixes='')
    # mmengine.fileio's functions reuse the backends they created; local
    # ones made before this step would keep writing in place.
    for key, backend in list(fileio_io.backend_instances.items()):
        if type(backend) is LocalBackend:
            del fileio_io.backend_instances[key]
