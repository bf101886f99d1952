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


def synthetic_dataset(kind, *options):
    """A session fixture: the small dataset that
    tools/dataset_converters/make_synthetic_<kind>.py writes with
    ``options``."""

    @pytest.fixture(scope='session', name=f'synthetic_{kind}')
    def dataset(tmp_path_factory):
        out = tmp_path_factory.mktemp('data') / kind
        run_tool(f'tools/dataset_converters/make_synthetic_{kind}.py', out,
                 *options)
        return out

    return dataset


synthetic_ade20k = synthetic_dataset('ade20k', '--num-train', 24, '--num-val',
                                     6, '--size', 64)
synthetic_imagenet = synthetic_dataset('imagenet', '--train-per-class', 12,
                                       '--val-per-class', 4, '--size', 48)
synthetic_coco = synthetic_dataset('coco', '--num-train', 12, '--num-val', 4,
                                   '--size', 128)
synthetic_levircd = synthetic_dataset('levircd', '--num-train', 16,
                                      '--num-val', 4, '--num-test', 4,
                                      '--size', 128)
synthetic_mri = synthetic_dataset('mri', '--layout', 'ixi')
# 120 6 mm subjects at 96x96, as configs/_base_/datasets/synthetic_octa.py
# splits them, and six 3 mm ones.
synthetic_octa = synthetic_dataset('octa', '--num-6mm', 120, '--num-3mm', 6,
                                   '--size', 96)
