"""Atomic file writing: a crash mid-write never leaves a truncated file."""
import os
import os.path as osp
import stat
import tempfile
from typing import Union


def _umask() -> int:
    """The process's umask, read without changing it where Linux allows.

    ``os.umask`` can only be read by setting it, which for a moment changes the
    mode of files that other threads create (data loader threads write pictures
    and logs), so /proc is asked first.
    """
    try:
        with open('/proc/self/status') as f:
            for line in f:
                if line.startswith('Umask:'):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _mode_for(path: str) -> int:
    """The permissions ``open(path, 'wb')`` would leave: an existing file's
    own, else 0666 less the umask."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        return 0o666 & ~_umask()


def atomic_write_bytes(data: bytes, path: Union[str, os.PathLike]) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder.

    ``os.replace`` within one filesystem is atomic, so readers see either the
    old file or the complete new one. The file gets the permissions a plain
    ``open(path, 'wb')`` would give it (``mkstemp`` creates its files 0600,
    which other users of a shared work dir could not read).
    """
    path = os.fspath(path)
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f'.{osp.basename(path)}.')
    try:
        with os.fdopen(fd, 'wb') as f:
            os.fchmod(f.fileno(), _mode_for(path))
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if osp.exists(tmp):
            os.unlink(tmp)
        raise
