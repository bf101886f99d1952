"""OCTAMetric: diagnosis scores against scikit-learn, segmentation scores
against the functional ones (themselves tested against medpy)."""
import io
import logging
import math

import numpy as np
import pytest
import torch
from mmengine.logging import MMLogger
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample
from sklearn.metrics import (accuracy_score, cohen_kappa_score,
                             confusion_matrix, precision_recall_fscore_support)

from mmzoo.evaluation.functional import assd, dice, hd95, jaccard
from mmzoo.registry import METRICS

pytestmark = pytest.mark.default_scope('mmzoo')

DIAGNOSES = ('NORMAL', 'DR', 'AMD')


def sample(name,
           pred=None,
           gt=None,
           spacing=0.015,
           gt_class=None,
           pred_class=None):
    data_sample = SegDataSample(
        metainfo=dict(img_path=name, pixel_spacing=spacing))
    if pred is not None:
        data_sample.pred_sem_seg = PixelData(
            data=torch.from_numpy(pred.astype(np.int64))[None])
    if gt is not None:
        data_sample.gt_sem_seg = PixelData(
            data=torch.from_numpy(gt.astype(np.int64))[None])
    if gt_class is not None:
        data_sample.gt_class = torch.tensor(gt_class)
        data_sample.pred_class = torch.tensor(pred_class)
    return data_sample.to_dict()


def build():
    metric = METRICS.build(dict(type='mmzoo.OCTAMetric'))
    metric.dataset_meta = dict(
        classes=('background', 'FAZ'), diagnosis_classes=DIAGNOSES)
    return metric


def faz_pair(rng, shape):
    """A ground-truth ellipse and a prediction: the ellipse moved and resized,
    with a few flipped pixels."""
    yy, xx = np.mgrid[:shape[0], :shape[1]]

    def ellipse(cy, cx, ry, rx):
        return ((yy - cy) / ry)**2 + ((xx - cx) / rx)**2 <= 1

    centre = np.array(shape) / 2
    radii = rng.uniform(0.15, 0.3, 2) * np.array(shape)
    gt = ellipse(*centre, *radii)
    pred = ellipse(*(centre + rng.normal(0, 2, 2)),
                   *(radii * rng.uniform(0.8, 1.2, 2)))
    pred ^= rng.random(shape) < 0.01
    return pred, gt


def evaluate(metric, samples, batch=3):
    for start in range(0, len(samples), batch):
        metric.process({}, samples[start:start + batch])
    return metric.evaluate(len(samples))


@pytest.mark.parametrize('seed', [0, 1])
def test_scores_equal_scikit_learn_and_the_functions(seed):
    rng = np.random.default_rng(seed)
    pairs, spacings, labels, preds, samples = [], [], [], [], []
    for index in range(11):
        shape = tuple(rng.integers(24, 48, 2))
        pred, gt = faz_pair(rng, shape)
        # OCTA-500's 3 mm and 6 mm spacings, and an anisotropic one.
        spacing = [3 / 304, 6 / 400, (0.02, 0.01)][index % 3]
        label = int(rng.integers(0, 3))
        guess = label if rng.random() < 0.6 else int(rng.integers(0, 3))
        pairs.append((pred, gt)), spacings.append(spacing)
        labels.append(label), preds.append(guess)
        samples.append(sample(f'{index}.bmp', pred, gt, spacing, label, guess))
    scores = evaluate(build(), samples)

    assert scores['Dice'] == pytest.approx(
        100 * np.mean([dice(p, g) for p, g in pairs]))
    assert scores['Jaccard'] == pytest.approx(
        100 * np.mean([jaccard(p, g) for p, g in pairs]))
    assert scores['HD95'] == pytest.approx(
        np.mean([hd95(p, g, s) for (p, g), s in zip(pairs, spacings)]))
    assert scores['ASSD'] == pytest.approx(
        np.mean([assd(p, g, s) for (p, g), s in zip(pairs, spacings)]))
    assert scores['surface_excluded'] == 0

    assert scores['accuracy'] == pytest.approx(100 *
                                               accuracy_score(labels, preds))
    assert scores['kappa'] == pytest.approx(
        100 * cohen_kappa_score(labels, preds, labels=[0, 1, 2]))
    precision, recall, _, _ = precision_recall_fscore_support(
        labels, preds, labels=[0, 1, 2], zero_division=0)
    for name, p, r in zip(DIAGNOSES, precision, recall):
        assert scores[f'precision_{name}'] == pytest.approx(100 * p)
        assert scores[f'recall_{name}'] == pytest.approx(100 * r)
    np.testing.assert_array_equal(
        scores['confusion_matrix'],
        confusion_matrix(labels, preds, labels=[0, 1, 2]))


def test_a_class_never_predicted_nor_present():
    """Class 2 (AMD) never occurs: its precision and recall are 0, as scikit-
    learn's zero_division=0 gives, and kappa is still scikit-learn's."""
    labels, preds = [0, 0, 1, 1, 1], [0, 1, 1, 1, 0]
    samples = [
        sample(f'{i}.png', gt_class=t, pred_class=p)
        for i, (t, p) in enumerate(zip(labels, preds))
    ]
    scores = evaluate(build(), samples)
    assert 'Dice' not in scores
    assert scores['precision_AMD'] == scores['recall_AMD'] == 0
    assert scores['kappa'] == pytest.approx(100 *
                                            cohen_kappa_score(labels, preds))


def test_segmentation_only_and_empty_masks():
    """Without classes only segmentation is scored.

    A prediction that misses the FAZ entirely has no finite HD95: the image is
    left out of the distance means, counted and named, but counts for Dice (0).
    """
    rng = np.random.default_rng(3)
    pred, gt = faz_pair(rng, (32, 32))
    empty = np.zeros_like(gt)
    scores = evaluate(build(), [
        sample('good.png', pred, gt, 0.01),
        sample('missed.png', empty, gt, 0.01),
        sample('none.png', empty, empty, 0.01),
    ])
    assert 'accuracy' not in scores and 'confusion_matrix' not in scores
    assert scores['Dice'] == pytest.approx(100 * (dice(pred, gt) + 0 + 1) / 3)
    # Both empty: distance 0, as the functions define.
    assert scores['HD95'] == pytest.approx((hd95(pred, gt, 0.01) + 0) / 2)
    assert scores['ASSD'] == pytest.approx((assd(pred, gt, 0.01) + 0) / 2)
    assert scores['surface_excluded'] == 1


def test_all_excluded_gives_nan():
    gt = np.zeros((8, 8), bool)
    gt[2:5, 2:5] = True
    scores = evaluate(build(), [sample('a.png', np.zeros_like(gt), gt)])
    assert math.isnan(scores['HD95']) and math.isnan(scores['ASSD'])


def test_results_are_gathered_per_sample():
    """Distributed evaluation gathers every rank's results into one list before
    compute_metrics; two ranks' halves give the scores of one pass."""
    rng = np.random.default_rng(4)
    samples = []
    for index in range(6):
        pred, gt = faz_pair(rng, (30, 30))
        samples.append(
            sample(f'{index}.png', pred, gt, 0.01, index % 3, (index + 1) % 3))
    whole = evaluate(build(), samples)
    ranks = [build(), build()]
    for rank, metric in enumerate(ranks):
        metric.process({}, samples[rank::2])
    gathered = ranks[0].results + ranks[1].results
    split = ranks[0].compute_metrics(gathered)
    for key, value in whole.items():
        np.testing.assert_allclose(split[key], value, err_msg=key)


def test_bad_samples_are_named():
    gt = np.zeros((8, 8), bool)
    gt[2:5, 2:5] = True
    with pytest.raises(KeyError, match='a.png: no pixel_spacing'):
        build().process({}, [sample('a.png', gt, gt, spacing=None)])
    with pytest.raises(ValueError, match=r'b.png: the prediction is \(8, 7\)'):
        build().process({}, [sample('b.png', gt[:, :7], gt)])
    with pytest.raises(ValueError, match=r'c.png: the ground truth .*\[255\]'):
        build().process({}, [sample('c.png', gt, gt * 255)])
    metric = build()
    metric.process({}, [sample('d.png', gt_class=3, pred_class=0)])
    with pytest.raises(ValueError, match='d.png: gt_class 3 is not one of'):
        metric.evaluate(1)


def test_the_confusion_matrix_is_logged_with_class_names():
    logger = MMLogger.get_current_instance()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger.addHandler(handler)
    try:
        evaluate(build(), [sample('a.png', gt_class=1, pred_class=2)])
    finally:
        logger.removeHandler(handler)
    table = stream.getvalue().split('diagnosis confusion matrix:\n')[1]
    header, normal, dr, amd = table.splitlines()[:4]
    assert header.split()[-3:] == list(DIAGNOSES)
    assert dr.split() == ['DR', '0', '0', '1']
