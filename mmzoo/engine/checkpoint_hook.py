"""mmengine's CheckpointHook with its ``last_checkpoint`` pointer written
atomically."""
import builtins
import io
import os
import os.path as osp
from contextlib import contextmanager

from mmengine.hooks import CheckpointHook
from mmengine.hooks import checkpoint_hook as mmengine_checkpoint_hook

from mmzoo.registry import HOOKS
from mmzoo.utils.fileio import atomic_write_bytes


class _AtomicTextFile(io.StringIO):
    """A text file that reaches ``path`` in one rename when it is closed."""

    def __init__(self, path: str) -> None:
        super().__init__()
        self.path = path

    def close(self) -> None:
        if not self.closed:
            atomic_write_bytes(self.getvalue().encode('utf-8'), self.path)
        super().close()


@contextmanager
def _atomic_open_for(path: str):
    """Make mmengine's checkpoint_hook module write ``path`` atomically.

    mmengine 0.10.7 writes the pointer with a bare ``open(save_file, 'w')``
    after every save, so a kill at that moment leaves it empty. The module's
    ``open`` is shadowed for this one path while a save runs; every other call
    goes to the built-in.
    """

    def open_atomically(file, mode='r', *args, **kwargs):
        if mode == 'w' and osp.abspath(os.fspath(file)) == path:
            return _AtomicTextFile(path)
        return builtins.open(file, mode, *args, **kwargs)

    mmengine_checkpoint_hook.open = open_atomically
    try:
        yield
    finally:
        del mmengine_checkpoint_hook.open


@HOOKS.register_module()
class AtomicCheckpointHook(CheckpointHook):
    """:class:`mmengine.hooks.CheckpointHook` whose ``last_checkpoint`` file is
    written through a temporary file and a rename, like the checkpoints
    themselves (``mmzoo.engine.install_checkpoint_safety``).

    A run killed while saving leaves the previous pointer, never an empty
    one. It takes CheckpointHook's arguments; :class:`mmzoo.engine.MMZooRunner`
    (used by ``tools/train.py``) puts it in place of a configured
    CheckpointHook.
    """

    def _save_checkpoint_with_step(self, runner, step, meta):
        pointer = osp.abspath(osp.join(runner.work_dir, 'last_checkpoint'))
        with _atomic_open_for(pointer):
            super()._save_checkpoint_with_step(runner, step, meta)
