"""Atomic writing: an interrupted write leaves the old file whole."""
import os

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
