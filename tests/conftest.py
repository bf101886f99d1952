import pytest

from mmzoo_testing import run_tool


def _make(kind, root, *extra):
    out = root / kind
    run_tool(f'tools/dataset_converters/make_synthetic_{kind}.py', out,
             *extra)
    return out


@pytest.fixture(scope='session')
def synthetic_ade20k(tmp_path_factory):
    return _make('ade20k', tmp_path_factory.mktemp('data'), '--num-train',
                 24, '--num-val', 6, '--size', 64)


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
    return _make('levircd', tmp_path_factory.mktemp('data'), '--num-train',
                 16, '--num-val', 4, '--num-test', 4, '--size', 128)
