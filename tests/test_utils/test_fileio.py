"""Atomic writing: an interrupted write leaves the old file whole."""
import os
import stat

import pytest

from mmzoo.utils.fileio import atomic_write_bytes


def test_interrupted_write_keeps_old_file(tmp_path, monkeypatch):
    path = tmp_path / 'iter_10.pth'
    path.write_bytes(b'complete old checkpoint')

    def crash(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, 'replace', crash)
    with pytest.raises(KeyboardInterrupt):
        atomic_write_bytes(b'new', path)
    assert path.read_bytes() == b'complete old checkpoint'
    assert os.listdir(tmp_path) == ['iter_10.pth']


@pytest.fixture
def umask(request):
    """The process's umask set to the test's parameter, restored after."""
    old = os.umask(request.param)
    yield request.param
    os.umask(old)


# What `open(path, 'wb')` gives a new file under each umask: 0666 less the
# umask's bits (POSIX open(2)).
@pytest.mark.parametrize(
    'umask, mode', [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)],
    indirect=['umask'])
def test_new_file_gets_the_umask_permissions(tmp_path, umask, mode):
    path = tmp_path / 'iter_10.pth'
    atomic_write_bytes(b'checkpoint', path)
    assert stat.S_IMODE(path.stat().st_mode) == mode
    reference = tmp_path / 'plain'
    with open(reference, 'wb'):
        pass
    assert stat.S_IMODE(reference.stat().st_mode) == mode


@pytest.mark.parametrize('umask', [0o022], indirect=True)
def test_replaced_file_keeps_its_permissions(tmp_path, umask):
    """Overwriting keeps the old file's mode, as writing in place does."""
    path = tmp_path / 'scores.json'
    path.write_bytes(b'old')
    path.chmod(0o640)
    atomic_write_bytes(b'new', path)
    assert path.read_bytes() == b'new'
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
