"""How tools/misc/setup_env.sh decides to build mmcv's ops, on fake machines.

``setup_env.sh --print-mmcv-plan`` prints the decision (cuda or cpu), its
reason, the GPU architectures and the wheel cache folder, building nothing. The
machines are made of a stub interpreter that answers the script's torch probe
(torch's version, its CUDA version, the visible GPUs' compute capabilities and
the first one's name) and a fake nvcc reached through a wrapper script, as
/usr/local/bin/nvcc is on the CI machine.
"""
import os
import os.path as osp
import shutil
import subprocess
import sys

import pytest
import torch
from mmzoo_testing import REPO

SCRIPT = osp.join(REPO, 'tools', 'misc', 'setup_env.sh')
# What the plan runs besides bash's builtins and the fakes: a PATH of these
# alone holds no nvcc, whatever the machine has in /usr/bin.
TOOLS = ('sed', 'head', 'realpath', 'dirname')

H200 = '2.14.1 13.0 9.0 NVIDIA H200'


def fake_machine(root, torch_probe, nvcc_release=None):
    """A venv whose python prints ``torch_probe``, and a PATH with the needed
    tools and, if ``nvcc_release``, a wrapper that runs the fake toolkit's
    nvcc."""
    venv_bin = root / 'venv' / 'bin'
    path = root / 'path'
    for folder in (venv_bin, path):
        folder.mkdir(parents=True)
    (venv_bin / 'python').write_text(f'#!/bin/sh\necho "{torch_probe}"\n')
    (venv_bin / 'python').chmod(0o755)
    for tool in TOOLS:
        (path / tool).symlink_to(shutil.which(tool))
    if nvcc_release is not None:
        toolkit = root / 'cuda-toolkit'
        (toolkit / 'bin').mkdir(parents=True)
        (toolkit / 'bin' / 'nvcc').write_text(
            '#!/bin/sh\ncase "$1" in\n'
            f'--version) echo "Cuda compilation tools, release '
            f'{nvcc_release}, V{nvcc_release}.88";;\n'
            f'--dryrun) echo "#$ TOP={toolkit}" >&2;;\nesac\n')
        wrapper = path / 'nvcc'
        wrapper.write_text(f'#!/bin/sh\nexec {toolkit}/bin/nvcc "$@"\n')
        for nvcc in (toolkit / 'bin' / 'nvcc', wrapper):
            nvcc.chmod(0o755)
    return root


def plan(machine, check=True, **env):
    """The script's plan on ``machine``, as a dict; the environment holds only
    what the test gives (no CUDA_HOME or TORCH_CUDA_ARCH_LIST of the machine
    running the tests)."""
    env = dict(
        HOME=str(machine),
        PATH=str(machine / 'path'),
        VENV=str(machine / 'venv'),
        MMZOO_WHEEL_CACHE=str(machine / 'cache'),
        **env)
    result = subprocess.run(['/bin/bash', SCRIPT, '--print-mmcv-plan'],
                            cwd=REPO,
                            env=env,
                            capture_output=True,
                            text=True,
                            timeout=60)
    if not check:
        return result
    assert result.returncode == 0, result.stderr
    # Deciding builds, installs and caches nothing.
    assert not (machine / 'cache').exists()
    assert sorted(os.listdir(machine / 'venv' / 'bin')) == ['python']
    return dict(line.split('=', 1) for line in result.stdout.splitlines())


def test_toolkit_cuda_torch_and_gpu_build_cuda_ops_for_that_gpu(tmp_path):
    machine = fake_machine(tmp_path, H200, nvcc_release='13.0')
    got = plan(machine)
    assert got['mode'] == 'cuda'
    assert got['arch'] == '9.0'
    assert got['cache'] == str(machine / 'cache' / 'torch2.14.1-cu130-sm90')
    # The toolkit nvcc reports, not the wrapper's grandparent folder.
    assert got['cuda_home'] == str(machine / 'cuda-toolkit')
    assert 'NVIDIA H200' in got['reason']


@pytest.mark.parametrize(
    'probe, nvcc_release, why',
    [
        # A GPU machine without the toolkit (pip's torch brings no nvcc).
        (H200, None, 'no CUDA toolkit'),
        # This machine and CI: toolkit and CUDA torch, no GPU.
        ('2.14.1 13.0 - -', '13.0', 'no GPU visible'),
        ('2.14.1 - - -', '13.0', 'CPU-only build'),
        # torch refuses to build extensions across CUDA major versions.
        (H200, '12.4', 'differ in major version'),
    ])
def test_cpu_ops_otherwise(tmp_path, probe, nvcc_release, why):
    got = plan(fake_machine(tmp_path, probe, nvcc_release))
    assert got['mode'] == 'cpu'
    assert why in got['reason']
    assert got['cache'] == str(tmp_path / 'cache' / 'torch2.14.1-cpuops')


def test_zero_forces_cpu_ops(tmp_path):
    machine = fake_machine(tmp_path, H200, nvcc_release='13.0')
    got = plan(machine, MMZOO_MMCV_CUDA='0')
    assert got['mode'] == 'cpu'
    assert got['reason'] == 'MMZOO_MMCV_CUDA=0'
    assert got['cache'].endswith('torch2.14.1-cpuops')


def test_one_forces_cuda_ops_without_a_gpu(tmp_path):
    machine = fake_machine(tmp_path, '2.14.1 13.0 - -', nvcc_release='13.0')
    got = plan(machine, MMZOO_MMCV_CUDA='1')
    assert got['mode'] == 'cuda'
    # No GPU to detect: Ampere and Hopper, as setup.py builds mmzoo's.
    assert got['arch'] == '8.0;9.0'
    assert got['cache'].endswith('torch2.14.1-cu130-sm80-sm90')
    got = plan(machine, MMZOO_MMCV_CUDA='1', TORCH_CUDA_ARCH_LIST='8.6+PTX')
    assert got['arch'] == '8.6+PTX'
    assert got['cache'].endswith('torch2.14.1-cu130-sm86+ptx')


def test_arch_list_is_part_of_the_cache_key(tmp_path):
    got = plan(
        fake_machine(tmp_path, H200, nvcc_release='13.0'),
        TORCH_CUDA_ARCH_LIST='8.0 9.0')
    assert got['cache'].endswith('torch2.14.1-cu130-sm80-sm90')


@pytest.mark.parametrize('value, nvcc_release, message', [
    ('1', None, 'no CUDA toolkit'),
    ('yes', '13.0', "must be 1 (build mmcv's CUDA ops) or 0"),
])
def test_impossible_or_unknown_demand_is_a_clear_error(tmp_path, value,
                                                       nvcc_release, message):
    machine = fake_machine(tmp_path, H200, nvcc_release)
    result = plan(machine, check=False, MMZOO_MMCV_CUDA=value)
    assert result.returncode != 0
    assert 'MMZOO_MMCV_CUDA' in result.stderr and message in result.stderr


def test_probe_of_the_real_torch(tmp_path):
    """The probe itself, run by this interpreter (through a wrapper, which
    keeps its venv) on a PATH without nvcc."""
    machine = fake_machine(tmp_path, '')
    python = machine / 'venv' / 'bin' / 'python'
    python.write_text(f'#!/bin/sh\nexec {sys.executable} "$@"\n')
    got = plan(machine)
    assert got['mode'] == 'cpu'
    assert 'no CUDA toolkit' in got['reason']
    version = torch.__version__.split('+')[0]
    assert got['cache'] == str(machine / 'cache' / f'torch{version}-cpuops')
