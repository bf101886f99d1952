"""psnr, ssim and nmse against scikit-image and a hand-worked example, with
fastMRI's volume conventions."""
import numpy as np
import pytest
from skimage.metrics import (mean_squared_error, peak_signal_noise_ratio,
                             structural_similarity)

from mmzoo.evaluation.functional import nmse, psnr, ssim


def random_pair(shape, seed):
    rng = np.random.default_rng(seed)
    gt = rng.uniform(0, 4, shape)
    return gt, gt + rng.normal(0, 0.3, shape)


@pytest.mark.parametrize('shape', [(3, 24, 20), (32, 32)])
def test_psnr_is_scikit_image_with_the_ground_truth_maximum(shape):
    gt, pred = random_pair(shape, 0)
    assert psnr(gt, pred) == pytest.approx(
        peak_signal_noise_ratio(gt, pred, data_range=gt.max()), rel=1e-12)


def test_ssim_is_the_mean_of_scikit_image_over_slices():
    gt, pred = random_pair((4, 30, 26), 1)
    # fastMRI: one data range, the whole volume's maximum, for every slice.
    expected = np.mean([
        structural_similarity(g, p, data_range=gt.max())
        for g, p in zip(gt, pred)
    ])
    assert ssim(gt, pred) == pytest.approx(expected, rel=1e-10)
    assert ssim(
        gt[1], pred[1], maxval=2.0) == pytest.approx(
            structural_similarity(gt[1], pred[1], data_range=2.0), rel=1e-10)
    assert ssim(gt, gt) == pytest.approx(1.0)


def test_nmse_hand_worked():
    gt = np.array([[1.0, 2.0], [3.0, 4.0]])
    pred = gt + np.array([[1.0, 0.0], [0.0, -2.0]])
    # ||error||^2 = 1 + 4 = 5, ||gt||^2 = 1 + 4 + 9 + 16 = 30.
    assert nmse(gt, pred) == pytest.approx(5 / 30)
    gt, pred = random_pair((2, 8, 8), 2)
    assert nmse(gt, pred) == pytest.approx(
        mean_squared_error(gt, pred) / np.mean(gt**2))


def test_mismatched_shapes_are_refused():
    with pytest.raises(ValueError, match=r'\(4, 4\).*\(4, 5\)'):
        psnr(np.ones((4, 4)), np.ones((4, 5)))
    with pytest.raises(ValueError, match='at least 7'):
        ssim(np.ones((5, 9)), np.ones((5, 9)))
