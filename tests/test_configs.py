"""Every shipped config parses and builds its model under mmzoo's scope, and
model-index.yml and the metafiles list exactly the configs that exist."""
import ast
import glob
import os.path as osp
import re

import pytest
import yaml
from mmengine.config import Config

import mmzoo.models  # noqa: F401
from mmzoo.registry import MODELS

REPO = osp.abspath(osp.join(osp.dirname(__file__), '..'))
ROOT = osp.join(REPO, 'configs')
CONFIGS = sorted(
    p for p in glob.glob(osp.join(ROOT, '**', '*.py'), recursive=True)
    if '_base_' not in p)
MODEL_BASES = sorted(glob.glob(osp.join(ROOT, '_base_', 'models', '*.py')))
METAFILES = sorted(glob.glob(osp.join(ROOT, '*', 'metafile.yml')))


def drop_pretrained(cfg):
    """Checkpoints cannot be downloaded here; build from scratch."""
    backbone = cfg.model.get('backbone', {})
    backbone.pop('init_cfg', None)


@pytest.mark.default_scope('mmzoo')
@pytest.mark.parametrize('path', CONFIGS, ids=lambda p: osp.relpath(p, ROOT))
def test_config_builds(path):
    cfg = Config.fromfile(path)
    assert cfg.default_scope == 'mmzoo'
    drop_pretrained(cfg)
    model = MODELS.build(cfg.model)
    # An mmzoo part in every config: the backbone in an upstream
    # architecture, the whole model where it has no backbone (T2Net).
    part = getattr(model, 'backbone', model)
    assert type(part).__module__.startswith('mmzoo.')


# The toolboxes' names: mmseg's {algorithm}_{backbone}_{N}xb{B}-{schedule}_
# {dataset}-{H}x{W}, mmdet's {algorithm}_{backbone}_{neck}_{schedule}_{dataset}
# and mmpretrain's {model}_{N}xb{B}_{dataset}.
NAME_PATTERNS = [
    r'[a-z0-9-]+_[a-z0-9-]+_\d+xb\d+-[a-z0-9]+_[a-z0-9-]+-\d+x\d+',
    r'[a-z0-9-]+_[a-z0-9-]+_[a-z0-9-]+_\d+x_[a-z0-9]+',
    r'[a-z0-9-]+_\d+xb\d+_[a-z0-9-]+',
]


@pytest.mark.parametrize('path', CONFIGS, ids=lambda p: osp.relpath(p, ROOT))
def test_config_name_follows_convention(path):
    name = osp.basename(path)[:-3]
    assert any(re.fullmatch(p, name) for p in NAME_PATTERNS), name


def declared_bases(path):
    """The `_base_` list a config file states, as written."""
    with open(path) as f:
        for node in ast.parse(f.read()).body:
            if (isinstance(node, ast.Assign)
                    and getattr(node.targets[0], 'id', None) == '_base_'):
                bases = ast.literal_eval(node.value)
                return [bases] if isinstance(bases, str) else bases
    return []


@pytest.mark.parametrize(
    'path', MODEL_BASES, ids=lambda p: osp.relpath(p, ROOT))
def test_upstream_model_inherits_its_toolbox_base(path):
    """A model of an upstream architecture starts from the toolbox's own
    base (`_base_ = ['mmdet::...']`) and changes only what differs: a
    restated copy drifts from upstream unseen."""
    scope = Config.fromfile(path).model.get('_scope_')
    if scope is None:
        pytest.skip('an mmzoo model: no upstream base to inherit')
    bases = declared_bases(path)
    assert any(b.startswith(f'{scope}::') for b in bases), (
        f'{path} builds a model of {scope} but inherits {bases}')


def load_yaml(path):
    with open(path) as f:
        return yaml.safe_load(f)


def test_model_index_imports_every_metafile_once():
    imports = load_yaml(osp.join(REPO, 'model-index.yml'))['Import']
    assert sorted(imports) == [osp.relpath(p, REPO) for p in METAFILES]


def configs_named_in(metafile):
    """The `Config` of every model in a metafile, relative to the repo."""
    models = load_yaml(metafile)['Models']
    missing = [m['Name'] for m in models if 'Config' not in m]
    assert not missing, f'{metafile}: models without a Config: {missing}'
    return [m['Config'] for m in models]


@pytest.mark.parametrize(
    'metafile', METAFILES, ids=lambda p: osp.relpath(p, ROOT))
def test_metafile_lists_exactly_the_configs_of_its_folder(metafile):
    named = configs_named_in(metafile)
    absent = [c for c in named if not osp.isfile(osp.join(REPO, c))]
    assert not absent, f'{metafile} names configs that do not exist: {absent}'
    folder = osp.dirname(metafile)
    in_folder = {
        osp.relpath(p, REPO)
        for p in glob.glob(osp.join(folder, '*.py'))
    }
    assert set(named) == in_folder, (
        f'{metafile} misses {sorted(in_folder - set(named))} and names '
        f'{sorted(set(named) - in_folder)} from other folders')
