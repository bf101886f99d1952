"""Safe loading and atomic saving of mmengine checkpoints.

torch >= 2.6 loads with ``weights_only=True`` by default, and mmengine 0.10.7
calls ``torch.load`` without saying otherwise, so resuming fails on the
non-tensor objects mmengine itself writes (the message hub's history
buffers hold numpy arrays). Rather than turning safe loading off, we load
local checkpoints with an allow-list of exactly those objects, scoped to the
call, and refuse anything else with an error that names the file and the
objects at fault. A truncated or corrupt file is refused as such, naming
it, and weights that do not fit a model are reported by key
(:func:`check_state_dict`) instead of loading part of them silently.

:func:`install_checkpoint_safety` installs both pieces into mmengine: the
loader for local paths (``CheckpointLoader``'s default scheme) and an atomic
local file backend, so a run killed while saving never leaves a truncated
checkpoint or ``last_checkpoint`` behind. Both are process-wide, so nothing
installs them on import: our tools call the function, and a user's config
opts in by importing :mod:`mmzoo.engine.checkpoint_safety`.
"""
import os
import os.path as osp
import pickle
import re
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

import numpy as np
import torch
from mmengine.fileio import LocalBackend
from mmengine.fileio import io as fileio_io
from mmengine.fileio import register_backend
from mmengine.logging import print_log
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


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be used as asked; the message names the file
    and what is wrong with it."""


class CorruptCheckpointError(CheckpointError):
    """The file is not a complete torch checkpoint (truncated, or not one at
    all)."""


class CheckpointMismatchError(CheckpointError):
    """The weights of a checkpoint do not fit the model."""


class NotResumableError(CheckpointError):
    """A checkpoint that training cannot resume from."""


def _unsafe_globals(filename: str) -> List[str]:
    allowed = {_global_name(g) for g in MMENGINE_SAFE_GLOBALS}
    try:
        found = torch.serialization.get_unsafe_globals_in_checkpoint(filename)
    except Exception:  # legacy (non-zip) files cannot be inspected
        return []
    return [name for name in found if name not in allowed]


def _is_unsafe(filename: str, error: pickle.UnpicklingError) -> List[str]:
    """The foreign globals ``error`` was raised for, or [] when the file is
    simply not a pickle (random bytes, a torn file)."""
    unsafe = _unsafe_globals(filename)
    if unsafe:
        return unsafe
    # Legacy (non-zip) files cannot be listed; torch names the global.
    if 'allowed global' in str(error) or 'Unsupported global' in str(error):
        return [str(error).splitlines()[0]]
    return []


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
        CorruptCheckpointError: If the file is truncated or not a torch
            checkpoint at all.
    """
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'checkpoint {filename!r} can not be found.')
    try:
        with torch.serialization.safe_globals(MMENGINE_SAFE_GLOBALS):
            return torch.load(
                filename, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        unsafe = _is_unsafe(filename, e)
        if not unsafe:
            raise _corrupt(filename, e) from e
        raise UnsafeCheckpointError(
            f'Refusing to load {filename}: it pickles objects that are not '
            f'part of an mmengine checkpoint ({", ".join(unsafe)}). mmzoo '
            'loads checkpoints with torch.load(weights_only=True) so that a '
            'checkpoint cannot run code. If you trust the file, re-save its '
            'tensors as a plain state dict.') from e
    except (RuntimeError, EOFError, ValueError) as e:
        # torch's zip reader fails on a torn file ("PytorchStreamReader
        # failed reading zip archive"); an empty one ends in EOFError.
        raise _corrupt(filename, e) from e


def _corrupt(filename: str, error: Exception) -> CorruptCheckpointError:
    # torch's first sentence says what failed ("PytorchStreamReader failed
    # reading zip archive: failed finding central directory").
    detail = str(error).split('. ')[0].strip() or type(error).__name__
    reason = (f'not a complete torch checkpoint ({osp.getsize(filename)} '
              f'bytes), truncated or corrupt: {detail}')
    corrupt = CorruptCheckpointError(
        f'{filename} is {reason}. Use another checkpoint; `tools/train.py '
        '--resume` without a path takes the newest complete one in the work '
        'dir.')
    corrupt.reason = reason
    return corrupt


def _first(keys: List[str], n: int = 5) -> str:
    shown = ', '.join(keys[:n])
    return shown + (f', ... ({len(keys)} in all)' if len(keys) > n else '')


def state_dict_of(checkpoint: Any, filename: str) -> Dict[str, torch.Tensor]:
    """The weights of a loaded checkpoint: its ``state_dict`` entry, or the
    checkpoint itself when it is a plain state dict."""
    if isinstance(checkpoint, dict) and isinstance(
            checkpoint.get('state_dict'), dict):
        return checkpoint['state_dict']
    if isinstance(checkpoint, dict) and checkpoint and all(
            isinstance(v, torch.Tensor) for v in checkpoint.values()):
        return checkpoint
    kind = type(checkpoint).__name__
    keys = list(checkpoint)[:10] if isinstance(checkpoint, dict) else []
    raise CheckpointMismatchError(
        f'{filename} holds no weights: it is a {kind} with neither a '
        f'state_dict entry nor tensors only (keys {keys})')


# mmengine's default renaming: DataParallel's prefix off.
STRIP_MODULE = ((r'^module\.', ''), )


def check_state_dict(model: torch.nn.Module,
                     state_dict: Dict[str, torch.Tensor],
                     filename: str,
                     revise_keys: Tuple = STRIP_MODULE) -> None:
    """Raise :class:`CheckpointMismatchError` naming ``filename`` and the first
    missing, unexpected and mis-shaped keys unless ``state_dict`` fits
    ``model`` exactly.

    ``revise_keys`` are the ``(pattern, replacement)`` renames the loader
    applies first (mmengine strips DataParallel's ``module.``). BatchNorm's
    ``num_batches_tracked`` counters may be missing, as mmengine allows.
    """
    for pattern, replacement in revise_keys:
        state_dict = {
            re.sub(pattern, replacement, k): v
            for k, v in state_dict.items()
        }
    expected = model.state_dict()
    missing = [
        k for k in expected
        if k not in state_dict and not k.endswith('num_batches_tracked')
    ]
    unexpected = [k for k in state_dict if k not in expected]
    shapes = [
        f'{k} {tuple(v.shape)} in the checkpoint, '
        f'{tuple(expected[k].shape)} in the model'
        for k, v in state_dict.items() if k in expected
        and isinstance(v, torch.Tensor) and v.shape != expected[k].shape
    ]
    if not (missing or unexpected or shapes):
        return
    problems = [
        f'{len(keys)} {title}: {_first(keys)}'
        for title, keys in (('missing keys', missing), ('unexpected keys',
                                                        unexpected),
                            ('keys of another shape', shapes)) if keys
    ]
    raise CheckpointMismatchError(
        f'{filename} does not fit the model {type(model).__name__} '
        f'({len(expected)} tensors; the checkpoint has {len(state_dict)}): ' +
        '; '.join(problems) + '. Is it a checkpoint of another '
        'architecture or config? To load only the tensors that fit, pass '
        '--allow-partial-load (or set allow_partial_load = True in the '
        'config).')


def init_model(model_cfg: dict,
               checkpoint: str,
               device: Union[str, torch.device] = 'cpu') -> torch.nn.Module:
    """The model of ``model_cfg`` with the weights of ``checkpoint``, in eval
    mode on ``device``: what the folder-inference tools run.

    Building does not initialise weights (no pretrained download): the
    checkpoint brings every one of them, and it must fit the model exactly
    (:func:`check_state_dict`; BatchNorm's counters may be missing, as mmengine
    allows).
    """
    from mmzoo.registry import MODELS
    model = MODELS.build(model_cfg)
    state_dict = state_dict_of(
        load_checkpoint_file(checkpoint, map_location='cpu'), checkpoint)
    for pattern, replacement in STRIP_MODULE:
        state_dict = {
            re.sub(pattern, replacement, k): v
            for k, v in state_dict.items()
        }
    check_state_dict(model, state_dict, checkpoint)
    model.load_state_dict(state_dict, strict=False)
    return model.to(device).eval()


# The names mmengine's CheckpointHook gives regular checkpoints.
_CHECKPOINT_NAME = re.compile(r'^(?:epoch|iter)_(\d+)\.pth$')
# What atomic_write_bytes writes before renaming: '.NAME.' and mkstemp's
# random suffix.
_PARTIAL_NAME = re.compile(
    r'^\.(?P<name>(?:epoch|iter)_\d+\.pth|last_checkpoint|.+\.pth)'
    r'\.[a-z0-9_]{8}$')


def _log_current(message: str) -> None:
    print_log(message, logger='current')


def _resume_candidates(work_dir: str, log: Callable[[str], None]) -> List[str]:
    """Checkpoints of ``work_dir`` newest first: the one ``last_checkpoint``
    names, then the regular ``epoch_N``/``iter_N`` files by age."""
    candidates = []
    pointer = osp.join(work_dir, 'last_checkpoint')
    if osp.isfile(pointer):
        with open(pointer) as f:
            named = f.read().strip()
        if not named:
            log(f'{pointer} is empty (a run killed while writing it?); '
                f'looking for checkpoints in {work_dir}')
        elif not osp.isfile(named):
            log(f'{pointer} names {named}, which does not exist; looking '
                f'for checkpoints in {work_dir}')
        else:
            candidates.append(named)
    regular = []
    for name in os.listdir(work_dir):
        match = _CHECKPOINT_NAME.match(name)
        if match:
            path = osp.join(work_dir, name)
            regular.append(
                (os.stat(path).st_mtime_ns, int(match.group(1)), path))
    for *_, path in sorted(regular, reverse=True):
        if not any(osp.samefile(path, c) for c in candidates):
            candidates.append(path)
    return candidates


def find_resumable_checkpoint(
    work_dir: str,
    log: Callable[[str], None] = _log_current
) -> Tuple[Optional[str], Optional[dict]]:
    """The newest complete checkpoint of ``work_dir`` and its contents.

    A checkpoint that fails to load (truncated by a copy or a full disk,
    corrupt) is skipped with a message naming it, and so is an empty or stale
    ``last_checkpoint``; the messages go to ``log`` (mmengine's current
    logger by default). Returns ``(None, None)`` when ``work_dir`` holds no
    checkpoint (training starts from the beginning, as mmengine does).

    Raises:
        CorruptCheckpointError: If there are checkpoints but none loads.
    """
    if not osp.isdir(work_dir):
        return None, None
    candidates = _resume_candidates(work_dir, log)
    skipped = []
    for path in candidates:
        try:
            checkpoint = load_checkpoint_file(path, 'cpu')
        except (CorruptCheckpointError, UnsafeCheckpointError) as error:
            reason = getattr(error, 'reason', error)
            log(f'--resume skips {path}: {reason}')
            skipped.append(path)
            continue
        if skipped:
            log(f'--resume: {path} is the newest complete checkpoint in '
                f'{work_dir}; resuming from it')
        return path, checkpoint
    if skipped:
        raise CorruptCheckpointError(
            f'--resume found no complete checkpoint in {work_dir}: '
            f'{", ".join(skipped)} are truncated, corrupt or unsafe')
    log(f'--resume found no checkpoint in {work_dir}; training starts from '
        'the beginning')
    return None, None


def remove_stale_partials(folder: str) -> List[str]:
    """Delete the temporary files that a run killed while saving left in
    ``folder`` (``.iter_8.pth.k2j4x9a_``: ``atomic_write_bytes`` renames them
    into place only once complete) and return their paths."""
    removed = []
    for name in sorted(os.listdir(folder)):
        if _PARTIAL_NAME.match(name):
            path = osp.join(folder, name)
            try:
                os.remove(path)
            except FileNotFoundError:  # another rank was first
                continue
            removed.append(path)
    return removed


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
