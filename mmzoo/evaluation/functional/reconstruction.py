"""Image-quality scores of MRI reconstructions, as fastMRI defines them.

fastMRI (Zbontar et al., arXiv:1811.08839; ``fastmri/evaluate.py``, which the
official T2Net code evaluates with) scores a whole volume at a time: PSNR
and SSIM take the ground truth volume's maximum as the data range, SSIM is
the mean over the volume's slices of the 2D SSIM (scikit-image's: a 7 x 7
uniform window, sample covariances, K1 = 0.01, K2 = 0.03, the mean over the
window-complete interior), and NMSE is the squared error relative to the
ground truth's energy. Arrays are (slices, H, W) volumes or single (H, W)
slices; the scores are computed in float64.
"""
from typing import Optional

import numpy as np
from scipy.ndimage import uniform_filter

SSIM_WINDOW = 7
SSIM_K1, SSIM_K2 = 0.01, 0.03


def _pair(gt: np.ndarray, pred: np.ndarray):
    gt = np.asarray(gt, np.float64)
    pred = np.asarray(pred, np.float64)
    if gt.shape != pred.shape:
        raise ValueError(f'gt {gt.shape} and pred {pred.shape} differ in '
                         'shape')
    return gt, pred


def nmse(gt: np.ndarray, pred: np.ndarray) -> float:
    """Normalised mean squared error ``||gt - pred||^2 / ||gt||^2``."""
    gt, pred = _pair(gt, pred)
    return float(np.sum((gt - pred)**2) / np.sum(gt**2))


def psnr(gt: np.ndarray, pred: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB with ``data_range = gt.max()``."""
    gt, pred = _pair(gt, pred)
    return float(10 * np.log10(gt.max()**2 / np.mean((gt - pred)**2)))


def _ssim_slice(gt: np.ndarray, pred: np.ndarray, data_range: float) -> float:
    """Mean structural similarity of one 2D slice (Wang et al., TIP 2004)."""
    if min(gt.shape) < SSIM_WINDOW:
        raise ValueError(f'SSIM needs slices of at least {SSIM_WINDOW} '
                         f'pixels a side, got {gt.shape}')
    area = SSIM_WINDOW**2
    cov_norm = area / (area - 1)  # sample (co)variances over the window

    def mean(image):
        return uniform_filter(image, size=SSIM_WINDOW)

    mu_x, mu_y = mean(gt), mean(pred)
    var_x = cov_norm * (mean(gt * gt) - mu_x**2)
    var_y = cov_norm * (mean(pred * pred) - mu_y**2)
    cov = cov_norm * (mean(gt * pred) - mu_x * mu_y)
    c1, c2 = (SSIM_K1 * data_range)**2, (SSIM_K2 * data_range)**2
    ssim_map = ((2 * mu_x * mu_y + c1) * (2 * cov + c2) /
                ((mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2)))
    # Only windows that lie inside the image count.
    pad = SSIM_WINDOW // 2
    return float(ssim_map[pad:-pad, pad:-pad].mean())


def ssim(gt: np.ndarray,
         pred: np.ndarray,
         maxval: Optional[float] = None) -> float:
    """Structural similarity: the mean over slices of the 2D SSIM.

    Args:
        gt (np.ndarray): (slices, H, W) or (H, W) ground truth.
        pred (np.ndarray): Prediction of the same shape.
        maxval (float, optional): Data range; ``gt.max()`` (of the whole
            volume) by default, as fastMRI.
    """
    gt, pred = _pair(gt, pred)
    if gt.ndim == 2:
        gt, pred = gt[None], pred[None]
    if gt.ndim != 3:
        raise ValueError(f'SSIM takes (slices, H, W) or (H, W) arrays, got '
                         f'shape {gt.shape}')
    data_range = gt.max() if maxval is None else maxval
    return float(
        np.mean([_ssim_slice(g, p, data_range) for g, p in zip(gt, pred)]))
