"""ChangeMetric against scikit-learn on random change maps."""
import numpy as np
import pytest
import torch
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample
from sklearn.metrics import (accuracy_score, cohen_kappa_score, jaccard_score,
                             precision_recall_fscore_support)

from mmzoo.registry import METRICS

pytestmark = pytest.mark.default_scope('mmzoo')


def sample(pred, label):
    data_sample = SegDataSample()
    data_sample.pred_sem_seg = PixelData(data=torch.from_numpy(pred)[None])
    data_sample.gt_sem_seg = PixelData(data=torch.from_numpy(label)[None])
    data_sample.set_metainfo(dict(img_path='pair.png'))
    return data_sample.to_dict()


def build():
    metric = METRICS.build(dict(type='mmzoo.ChangeMetric'))
    metric.dataset_meta = dict(classes=('unchanged', 'changed'))
    return metric


def sklearn_scores(preds, labels):
    y_pred = np.concatenate([p.ravel() for p in preds])
    y_true = np.concatenate([t.ravel() for t in labels])
    keep = y_true != 255
    y_pred, y_true = y_pred[keep], y_true[keep]
    precision, recall, f1, _ = precision_recall_fscore_support(
        y_true, y_pred, labels=[1], zero_division=0)
    return dict(
        precision=precision[0],
        recall=recall[0],
        f1=f1[0],
        iou=jaccard_score(y_true, y_pred, pos_label=1, zero_division=0),
        oa=accuracy_score(y_true, y_pred),
        kappa=cohen_kappa_score(y_true, y_pred))


def random_batches(seed, sizes, batch=2):
    """Batches of (pred, label) with about 20% change, predictions right most
    of the time, and ignored pixels in the labels."""
    rng = np.random.default_rng(seed)
    pairs = []
    for height, width in sizes:
        label = (rng.random((height, width)) < 0.2).astype(np.int64)
        flip = rng.random((height, width)) < 0.15
        pred = np.where(flip, 1 - label, label)
        label[rng.random((height, width)) < 0.1] = 255
        pairs.append((pred, label))
    return [pairs[i:i + batch] for i in range(0, len(pairs), batch)]


@pytest.mark.parametrize('seed', [0, 1, 2])
def test_split_scores_equal_scikit_learn(seed):
    batches = random_batches(seed, [(16, 24), (40, 8), (5, 5), (32, 32),
                                    (7, 13)])
    metric = build()
    for batch in batches:
        metric.process({}, [sample(p, t) for p, t in batch])
    scores = metric.evaluate(len(sum(batches, [])))
    pairs = sum(batches, [])
    expected = sklearn_scores([p for p, _ in pairs], [t for _, t in pairs])
    assert set(scores) == set(expected)
    for key, value in expected.items():
        # Reported in percent.
        assert scores[key] == pytest.approx(100 * value, abs=1e-9), key


def test_scores_pool_pixels_over_the_split():
    """A large image and a small one: the split's F1 is that of all pixels
    together (scikit-learn on the concatenation), not the mean of the two
    images' F1."""
    big_label = np.zeros((20, 20), np.int64)
    big_label[:10] = 1
    big_pred = big_label.copy()  # perfect: F1 1
    small_label = np.array([[1, 1], [0, 0]])
    small_pred = np.array([[0, 0], [1, 1]])  # all wrong: F1 0
    metric = build()
    metric.process({}, [sample(big_pred, big_label)])
    metric.process({}, [sample(small_pred, small_label)])
    f1 = metric.evaluate(2)['f1']
    expected = sklearn_scores([big_pred, small_pred],
                              [big_label, small_label])['f1']
    assert f1 == pytest.approx(100 * expected)
    assert f1 != pytest.approx(50.0)


def test_hand_worked_example():
    # TP 2, FN 1, FP 1, TN 5; the last pixel is ignored.
    label = np.array([[1, 1, 1, 0, 0], [0, 0, 0, 0, 255]])
    pred = np.array([[1, 1, 0, 1, 0], [0, 0, 0, 0, 1]])
    metric = build()
    metric.process({}, [sample(pred, label)])
    scores = metric.evaluate(1)
    assert scores['precision'] == pytest.approx(100 * 2 / 3)
    assert scores['recall'] == pytest.approx(100 * 2 / 3)
    assert scores['f1'] == pytest.approx(100 * 2 / 3)
    assert scores['iou'] == pytest.approx(100 * 2 / 4)
    assert scores['oa'] == pytest.approx(100 * 7 / 9)
    # Both maps mark 3 of 9 pixels changed: chance agreement
    # (3 * 3 + 6 * 6) / 81 = 45 / 81, so kappa = (63 - 45) / (81 - 45).
    assert scores['kappa'] == pytest.approx(50.0)


def test_no_change_predicted_scores_zero_precision():
    label = np.array([[1, 0], [0, 0]])
    pred = np.zeros((2, 2), np.int64)
    metric = build()
    metric.process({}, [sample(pred, label)])
    scores = metric.evaluate(1)
    assert scores['precision'] == 0 and scores['f1'] == 0
    assert scores['oa'] == pytest.approx(75.0)


def test_prediction_values_other_than_0_1_are_refused():
    metric = build()
    with pytest.raises(
            ValueError, match=r'pair\.png: the prediction holds .*: \[2\]'):
        metric.process(
            {}, [sample(np.full((2, 2), 2), np.zeros((2, 2), np.int64))])


def test_shape_mismatch_is_refused():
    metric = build()
    with pytest.raises(ValueError, match=r'pair\.png.*\(2, 3\).*\(2, 2\)'):
        metric.process(
            {},
            [sample(np.zeros((2, 3), np.int64), np.zeros((2, 2), np.int64))])
