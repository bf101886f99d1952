"""The environment is installed from a lock (requirements/constraints.txt,
written by tools/misc/update_lock.sh): every installed package must be in it at
its installed version, and the ranges users see in requirements/*.txt must
admit what was locked."""
import importlib.metadata
import os.path as osp
import sysconfig
from glob import glob

import pytest
from mmzoo_testing import REPO
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

LOCK = osp.join(REPO, 'requirements', 'constraints.txt')
RANGES = sorted(
    p for p in glob(osp.join(REPO, 'requirements', '*.txt')) if p != LOCK)


def requirement_lines(path):
    with open(path) as f:
        for number, line in enumerate(f, start=1):
            line = line.split('#', 1)[0].strip()
            if line:
                yield number, line


def read_lock():
    locked = {}
    for number, line in requirement_lines(LOCK):
        requirement = Requirement(line)
        pins = [s for s in requirement.specifier if s.operator == '==']
        assert len(pins) == 1 and len(requirement.specifier) == 1, \
            f'{LOCK}:{number}: {line!r} is not an exact pin name==version'
        name = canonicalize_name(requirement.name)
        assert name not in locked, f'{LOCK}:{number}: {name} locked twice'
        locked[name] = pins[0].version
    return locked


def installed():
    """What the environment has installed, as pip lists it: the packages of its
    site-packages, not those that a package vendors inside itself (once
    imported, setuptools puts its vendored packages' folder on sys.path)."""
    paths = sorted(
        {sysconfig.get_path('purelib'),
         sysconfig.get_path('platlib')})
    return {
        canonicalize_name(dist.metadata['Name']): dist.version
        for dist in importlib.metadata.distributions(path=paths)
    }


def test_lock_covers_every_installed_distribution():
    locked = read_lock()
    # The package under test is installed from this checkout, not the lock.
    stray = [
        f'{name} {version} (locked: {locked.get(name, "absent")})'
        for name, version in sorted(installed().items())
        if name != 'mmzoo' and locked.get(name) != version
    ]
    assert not stray, (
        f'installed, but not at the version of {LOCK}: {", ".join(stray)}. '
        f'`make env` installs the lock; after a deliberate change to '
        f'requirements/, tools/misc/update_lock.sh rewrites it')


@pytest.mark.parametrize('path', RANGES, ids=osp.basename)
def test_ranges_admit_the_locked_versions(path):
    locked = read_lock()
    for number, line in requirement_lines(path):
        requirement = Requirement(line)
        name = canonicalize_name(requirement.name)
        assert name in locked, f'{path}:{number}: {name} is not in the lock'
        assert requirement.specifier.contains(
            locked[name], prereleases=True), (
                f'{path}:{number}: {line!r} does not admit the locked '
                f'{name}=={locked[name]}')


def test_a_pin_outside_its_range_is_caught():
    """The check above is no tautology: a range can exclude a version."""
    assert not Requirement('numpy<2').specifier.contains('2.4.6')
