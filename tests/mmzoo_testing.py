"""Helpers shared by the tests."""
import os
import os.path as osp
import subprocess
import sys

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
# The seed of every training test. A recipe that learns only for a lucky seed
# is a broken test, so their robustness is checked over several:
# `MMZOO_TEST_SEED=1 pytest tests/test_tools/test_train_test.py`.
TRAIN_SEED = int(os.environ.get('MMZOO_TEST_SEED', '0'))


def run_tool(*args, timeout=900, check=True):
    """Run a repository script in a fresh interpreter, as a user would."""
    result = subprocess.run([sys.executable, *map(str, args)], cwd=REPO,
                            capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(
            f'{args} exited {result.returncode}:\n{result.stdout[-4000:]}\n'
            f'{result.stderr[-6000:]}')
    return result


