"""Surface distances against medpy, overlap scores against scikit-learn, and
the defined behaviour on empty masks."""
import math

import numpy as np
import pytest
from medpy.metric import binary as medpy_binary
from sklearn.metrics import f1_score, jaccard_score

from mmzoo.evaluation.functional import (assd, dice, hd95, jaccard,
                                         surface_distances, surface_scores)


def random_masks(rng, shape):
    """Noise masks of random density: many small objects, holes and pixels on
    the image border, the hard cases for a bounding-box shortcut."""
    return [rng.random(shape) < rng.uniform(0.02, 0.6) for _ in range(2)]


def blob(shape, centre, radii):
    yy, xx = np.mgrid[:shape[0], :shape[1]]
    return (((yy - centre[0]) / radii[0])**2 +
            ((xx - centre[1]) / radii[1])**2) <= 1


def hand_made():
    """(pred, gt) pairs: ellipses apart and overlapping, a mask touching the
    image border, a single pixel, a ring around a hole."""
    shape = (40, 50)
    ring = blob(shape, (20, 25), (12, 12)) & ~blob(shape, (20, 25), (5, 5))
    single = np.zeros(shape, bool)
    single[3, 47] = True
    corner = np.zeros(shape, bool)
    corner[:9, :14] = True
    return [
        (blob(shape, (20, 15), (6, 9)), blob(shape, (22, 30), (8, 5))),
        (blob(shape, (20, 25), (10, 14)), blob(shape, (21, 24), (9, 15))),
        (corner, blob(shape, (6, 8), (7, 9))),
        (single, blob(shape, (30, 10), (4, 4))),
        (ring, blob(shape, (20, 25), (11, 11))),
    ]


SPACINGS = [None, 0.75, (0.5, 1.25), (3.0, 0.2)]


def medpy_scores(pred, gt, spacing):
    return (medpy_binary.hd95(pred, gt, voxelspacing=spacing),
            medpy_binary.assd(pred, gt, voxelspacing=spacing))


def ours(pred, gt, spacing):
    spacing = 1.0 if spacing is None else spacing
    return hd95(pred, gt, spacing), assd(pred, gt, spacing)


@pytest.mark.parametrize('spacing', SPACINGS)
def test_equal_to_medpy_on_random_masks(spacing):
    rng = np.random.default_rng(0)
    for _ in range(20):
        pred, gt = random_masks(rng, tuple(rng.integers(4, 40, 2)))
        # Exactly: the same distances, added in the same order.
        assert ours(pred, gt, spacing) == medpy_scores(pred, gt, spacing)


@pytest.mark.parametrize('spacing', SPACINGS)
def test_equal_to_medpy_on_hand_made_masks(spacing):
    for pred, gt in hand_made():
        for a, b in ((pred, gt), (gt, pred)):
            assert ours(a, b, spacing) == medpy_scores(a, b, spacing)


def test_hand_worked_distances():
    """Two 1 x 3 bars, two rows apart at spacing (2, 1): every surface pixel
    is 4 mm from the other bar's, so HD95 = ASSD = 4; moving one bar a pixel
    sideways gives the end pixels distance sqrt(4^2 + 1^2)."""
    pred = np.zeros((5, 7), bool)
    gt = np.zeros((5, 7), bool)
    pred[1, 2:5] = True
    gt[3, 2:5] = True
    assert hd95(pred, gt, (2, 1)) == assd(pred, gt, (2, 1)) == 4.0
    gt = np.roll(gt, 1, axis=1)
    to_gt, to_pred = surface_distances(pred, gt, (2, 1))
    np.testing.assert_allclose(to_gt, [math.sqrt(17), 4, 4])
    np.testing.assert_allclose(to_pred, [4, 4, math.sqrt(17)])
    assert assd(pred, gt, (2, 1)) == pytest.approx((8 + math.sqrt(17)) / 3)


def test_surface_scores_is_hd95_and_assd():
    rng = np.random.default_rng(1)
    pred, gt = random_masks(rng, (30, 30))
    assert surface_scores(pred, gt, 0.3) == (hd95(pred, gt,
                                                  0.3), assd(pred, gt, 0.3))


def test_empty_masks():
    empty = np.zeros((6, 6), np.uint8)
    full = np.zeros((6, 6), np.uint8)
    full[1:4, 2:5] = 1
    # Both empty: perfect agreement.
    assert surface_scores(empty, empty, 0.5) == (0.0, 0.0)
    assert dice(empty, empty) == jaccard(empty, empty) == 1.0
    # One empty: no surface to measure to, an infinite distance.
    for pred, gt in ((empty, full), (full, empty)):
        assert hd95(pred, gt) == assd(pred, gt) == math.inf
        assert dice(pred, gt) == jaccard(pred, gt) == 0.0
    to_gt, to_pred = surface_distances(full, empty)
    assert to_gt.size == 8 and np.isinf(to_gt).all() and to_pred.size == 0


@pytest.mark.parametrize('seed', [0, 1])
def test_dice_and_jaccard_equal_scikit_learn(seed):
    rng = np.random.default_rng(seed)
    for _ in range(10):
        pred, gt = random_masks(rng, (12, 17))
        assert dice(pred, gt) == pytest.approx(
            f1_score(gt.ravel(), pred.ravel()), abs=1e-12)
        assert jaccard(pred, gt) == pytest.approx(
            jaccard_score(gt.ravel(), pred.ravel()), abs=1e-12)


def test_bad_input_is_named():
    with pytest.raises(ValueError, match=r'\(3, 4\) and the ground truth'):
        hd95(np.ones((3, 4)), np.ones((4, 3)))
    with pytest.raises(ValueError, match=r'one number or 2 .*\[1.0, 2.0, 3.0'):
        assd(np.ones((3, 4)), np.ones((3, 4)), (1, 2, 3))
    with pytest.raises(ValueError, match='positive'):
        hd95(np.ones((3, 4)), np.ones((3, 4)), (1, -2))
