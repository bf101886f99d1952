"""Helpers shared by the tests."""
import os.path as osp
import subprocess
import sys

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))


def run_tool(*args, timeout=900, check=True):
    """Run a repository script in a fresh interpreter, as a user would."""
    result = subprocess.run([sys.executable, *map(str, args)], cwd=REPO,
                            capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(
            f'{args} exited {result.returncode}:\n{result.stdout[-4000:]}\n'
            f'{result.stderr[-6000:]}')
    return result


