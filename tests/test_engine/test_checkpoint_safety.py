"""Importing mmzoo leaves mmengine's checkpoint loading and file writing as
they are; the explicit step (:func:`install_checkpoint_safety`, or importing
``mmzoo.engine.checkpoint_safety`` from a config) replaces them.

Each case runs in a fresh interpreter: what the test session has imported or
installed must not mask what an import does.
"""
import json
import subprocess
import sys
import textwrap

import pytest
from mmzoo_testing import REPO

# Prints mmengine's process-wide checkpoint state after the step named in
# argv[1]: the loader of each path prefix, the file backends, and whether a
# checkpoint holding what mmengine's Runner writes (a message-hub history
# buffer) loads through mmengine's own entry point.
PROBE = """
import importlib, json, os, sys
from mmengine.fileio import get_file_backend
from mmengine.fileio.backends import registry_utils
from mmengine.logging.history_buffer import HistoryBuffer
from mmengine.runner import CheckpointLoader, save_checkpoint

step, tmp = sys.argv[1], sys.argv[2]
if step == 'default scope':
    # What a config with default_scope='mmzoo' triggers: the registries'
    # locations import our models, datasets, hooks, metrics, visualisers.
    from mmengine.registry import (DATASETS, HOOKS, METRICS, MODELS,
                                   TRANSFORMS, VISUALIZERS,
                                   init_default_scope)
    init_default_scope('mmzoo')
    for registry in (DATASETS, HOOKS, METRICS, MODELS, TRANSFORMS,
                     VISUALIZERS):
        registry.get('NoSuchType')  # imports the scope's locations
    MODELS.build(dict(type='BCLLoss'))
    HOOKS.build(dict(type='RNGStateHook'))
elif step == 'config':
    from mmengine.config import Config
    Config.fromfile(os.path.join(tmp, 'user_config.py'))
elif step == 'config, then the function again':
    from mmengine.config import Config
    from mmzoo.engine import install_checkpoint_safety
    Config.fromfile(os.path.join(tmp, 'user_config.py'))
    install_checkpoint_safety()
elif step != 'nothing':
    importlib.import_module(step)


def name(obj):
    return f'{obj.__module__}.{obj.__qualname__}'


path = os.path.join(tmp, 'ckpt.pth')
buffer = HistoryBuffer()
buffer.update(1.0)
save_checkpoint(dict(state_dict={}, message_hub=dict(loss=buffer)), path)
try:
    CheckpointLoader.load_checkpoint(path)
    loads = True
except Exception:
    loads = False
print(json.dumps(dict(
    loaders={p: name(f) for p, f in CheckpointLoader._schemes.items()},
    backends={n: name(c) for n, c in registry_utils.backends.items()},
    prefixes={p: name(c)
              for p, c in registry_utils.prefix_to_backends.items()},
    local_backend=name(type(get_file_backend(path))),
    loads_runner_checkpoint=loads)))
"""

USER_CONFIG = """
custom_imports = dict(
    imports=['mmzoo.models', 'mmzoo.engine.checkpoint_safety'],
    allow_failed_imports=False)
"""


def probe(step, tmp_path):
    (tmp_path / 'user_config.py').write_text(textwrap.dedent(USER_CONFIG))
    result = subprocess.run([sys.executable, '-c', PROBE, step,
                             str(tmp_path)],
                            cwd=REPO,
                            capture_output=True,
                            text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.splitlines()[-1])


@pytest.fixture(scope='module')
def without_mmzoo(tmp_path_factory):
    """mmengine's state in a process that never imports mmzoo."""
    return probe('nothing', tmp_path_factory.mktemp('plain'))


def test_mmengine_alone_refuses_its_own_checkpoints(without_mmzoo):
    """Why the step exists: torch >= 2.6 loads with weights_only=True and
    mmengine 0.10.7 does not say otherwise."""
    assert without_mmzoo['loaders'][''] == \
        'mmengine.runner.checkpoint.load_from_local'
    assert without_mmzoo['local_backend'] == \
        'mmengine.fileio.backends.local_backend.LocalBackend'
    assert not without_mmzoo['loads_runner_checkpoint']


@pytest.mark.parametrize(
    'step', ['mmzoo', 'mmzoo.models', 'mmzoo.engine', 'default scope'])
def test_importing_mmzoo_changes_nothing_global(step, without_mmzoo, tmp_path):
    assert probe(step, tmp_path) == without_mmzoo


@pytest.mark.parametrize('step', [
    'mmzoo.engine.checkpoint_safety', 'config',
    'config, then the function again'
])
def test_explicit_step_installs_safe_atomic_checkpoints(
        step, without_mmzoo, tmp_path):
    state = probe(step, tmp_path)
    assert state['loaders'] == dict(
        without_mmzoo['loaders'],
        **{'': 'mmzoo.engine.checkpoint.load_checkpoint_file'})
    atomic = 'mmzoo.engine.checkpoint.AtomicLocalBackend'
    assert state['backends'] == dict(without_mmzoo['backends'], local=atomic)
    assert state['prefixes'] == dict(without_mmzoo['prefixes'], **{'': atomic})
    assert state['local_backend'] == atomic
    assert state['loads_runner_checkpoint']
