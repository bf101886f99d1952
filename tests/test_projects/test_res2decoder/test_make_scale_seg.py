"""The generated scale set: ADE20K's layout read by mmseg through the project's
dataset config, and classes that only an object's extent tells apart."""
import os.path as osp
import sys

import cv2
import numpy as np
import pytest
from mmengine.config import Config
from mmzoo_testing import REPO

sys.path.insert(0, osp.join(REPO, 'projects', 'res2decoder', 'tools'))
import make_scale_seg  # noqa: E402


@pytest.fixture(scope='module')
def scale_set(tmp_path_factory):
    return make_scale_seg.generate(
        tmp_path_factory.mktemp('scaleseg'), num_train=6, num_val=2)


def components(label, cls):
    """Pixel counts of the 4-connected regions of class ``cls``."""
    num, ids = cv2.connectedComponents((label == cls).astype(np.uint8), 4)
    return [int((ids == i).sum()) for i in range(1, num)]


def test_mmseg_reads_the_layout(scale_set):
    from mmengine.registry import DefaultScope
    from mmseg.registry import DATASETS
    cfg = Config.fromfile(
        osp.join(REPO, 'projects', 'res2decoder', 'configs', '_base_',
                 'scaleseg.py'))
    dataset = cfg.train_dataloader.dataset
    dataset.pop('_scope_')
    dataset.update(data_root=str(scale_set), serialize_data=False)
    with DefaultScope.overwrite_default_scope('mmseg'):
        train = DATASETS.build(dataset)
    assert len(train) == 6
    sample = train[0]['data_samples']
    # reduce_zero_label: PNG value k is class k - 1; ground fills the rest.
    labels = set(np.unique(sample.gt_sem_seg.data.numpy()))
    assert labels <= set(range(6))
    assert 0 in labels
    assert train.metainfo['classes'] == make_scale_seg.CLASSES


def test_size_alone_separates_the_paired_classes(scale_set):
    side = 64
    large, small, colours = [], [], {c: [] for c in range(2, 6)}
    for path in sorted((scale_set / 'annotations' / 'training').glob('*.png')):
        label = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        image = cv2.imread(
            str(scale_set / 'images' / 'training' / path.name).replace(
                '.png', '.jpg'))[..., ::-1].astype(float)
        for cls in (2, 4):
            large += components(label, cls)
        for cls in (3, 5):
            small += components(label, cls)
        for cls in colours:
            # Away from the edges, where JPEG blurs neighbours together.
            inner = cv2.erode((label == cls).astype(np.uint8), np.ones((3, 3)))
            colours[cls] += list(image[inner.astype(bool)])
    # A small object is at most 10% of the side across (roads may cut it,
    # never enlarge it); large ones reach far beyond that.
    assert max(small) <= (0.1 * side + 1)**2
    assert max(large) > 4 * (0.1 * side + 1)**2
    mean = {c: np.mean(v, axis=0) for c, v in colours.items() if v}
    # Same colour family within a pair, different families across pairs.
    pair = np.linalg.norm(mean[2] - mean[3]), np.linalg.norm(mean[4] - mean[5])
    across = np.linalg.norm(mean[2] - mean[4])
    assert max(pair) < across / 3


def test_roads_are_thin(scale_set):
    for path in (scale_set / 'annotations' / 'validation').glob('*.png'):
        road = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE) == 6
        # A 5x5 opening removes every line at most 3 px wide; where roads
        # cross, a blob of a few pixels may survive.
        opened = cv2.morphologyEx(
            road.astype(np.uint8), cv2.MORPH_OPEN, np.ones((5, 5)))
        assert road.any()
        assert opened.sum() <= 0.1 * road.sum()


def test_same_seed_same_bytes(tmp_path):
    a = make_scale_seg.generate(tmp_path / 'a', num_train=1, num_val=1)
    b = make_scale_seg.generate(tmp_path / 'b', num_train=1, num_val=1)
    for path in a.rglob('*.*'):
        assert path.read_bytes() == (b / path.relative_to(a)).read_bytes()


def test_non_empty_output_is_refused(scale_set):
    with pytest.raises(SystemExit):
        make_scale_seg.main([str(scale_set)])
