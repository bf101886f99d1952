import pytest
from mmengine.registry import DefaultScope
from mmzoo_testing import run_tool


def pytest_configure(config):
    config.addinivalue_line(
        'markers', "default_scope(name): run the test under mmengine's "
        'default scope `name`')


@pytest.fixture(autouse=True)
def default_scope(request):
    """mmengine's default scope for one test, restored afterwards.

    The scope is named by the test's ``default_scope`` mark
    (``pytestmark = pytest.mark.default_scope('mmzoo')`` for a module) or by
    indirect parametrization
    (``@pytest.mark.parametrize('default_scope', ['mmseg'], indirect=True)``),
    and the test receives the name. Registries build under the latest scope
    and ``init_default_scope`` leaves it set for good, so without the
    restoring (of every scope made during the test, a Runner's included) a
    test's result would depend on the tests run before it.
    """
    mark = request.node.get_closest_marker('default_scope')
    name = getattr(request, 'param', mark.args[0] if mark else None)
    with DefaultScope.overwrite_default_scope(name):
        yield name


def _make(kind, root, *extra):
    out = root / kind
    run_tool(f'tools/dataset_converters/make_synthetic_{kind}.py', out, *extra)
    return out


@pytest.fixture(scope='session')
def synthetic_ade20k(tmp_path_factory):
    return _make('ade20k', tmp_path_factory.mktemp('data'), '--num-train', 24,
                 '--num-val', 6, '--size', 64)


@pytest.fixture(scope='session')
def synthetic_imagenet(tmp_path_factory):
    return _make('imagenet', tmp_path_factory.mktemp('data'),
                 '--train-per-class', 12, '--val-per-class', 4, '--size', 48)


@pytest.fixture(scope='session')
def synthetic_coco(tmp_path_factory):
    return _make('coco', tmp_path_factory.mktemp('data'), '--num-train', 12,
                 '--num-val', 4, '--size', 128)


@pytest.fixture(scope='session')
def synthetic_levircd(tmp_path_factory):
    return _make('levircd', tmp_path_factory.mktemp('data'), '--num-train', 16,
                 '--num-val', 4, '--num-test', 4, '--size', 128)
