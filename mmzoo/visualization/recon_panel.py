"""Pictures of MRI restoration: the input, both branches' outputs, the ground
truth and the error, side by side at the high resolution.

Everything takes numpy arrays in the image's own units (de-normalised) and
returns RGB uint8, so the same function serves the test-time hook and the
inference CLI.
"""
from typing import Optional

import cv2
import numpy as np

from .change_map import hstack_panels


def _grey(image: np.ndarray, low: float, high: float) -> np.ndarray:
    scaled = (np.asarray(image, np.float64) - low) / max(high - low, 1e-12)
    return np.round(np.clip(scaled, 0, 1) * 255).astype(np.uint8)


def _nearest(image: np.ndarray, shape) -> np.ndarray:
    """Low-resolution pixels as blocks on the high-resolution grid, so the
    panel shows what the input really resolves."""
    rows, cols = shape[0] // image.shape[0], shape[1] // image.shape[1]
    if (image.shape[0] * rows, image.shape[1] * cols) != tuple(shape):
        raise ValueError(f'a {image.shape} image does not tile {shape}')
    return np.kron(image, np.ones((rows, cols), image.dtype))


def reconstruction_panel(zero_filled: np.ndarray,
                         recon: np.ndarray,
                         sr: np.ndarray,
                         gt: Optional[np.ndarray] = None,
                         error_range: float = 0.2) -> np.ndarray:
    """zero-filled input | reconstruction | SR output | ground truth | error.

    The grey levels span the ground truth's range (the SR output's without
    one) for every panel, so brightness compares across panels. The
    low-resolution images are drawn as blocks at the SR size. The error map
    is ``|SR - ground truth|`` coloured from black (0) to white
    (``error_range`` times the ground truth's range and beyond); without a
    ground truth both are left out.

    Args:
        zero_filled (np.ndarray): (h, w) input.
        recon (np.ndarray): (h, w) reconstruction branch output.
        sr (np.ndarray): (H, W) super-resolution output.
        gt (np.ndarray, optional): (H, W) high-resolution ground truth.
        error_range (float): Error drawn at full scale, as a fraction of the
            ground truth's range. Defaults to 0.2.

    Returns:
        np.ndarray: RGB uint8 panel.
    """
    sr = np.asarray(sr, np.float64)
    if sr.ndim != 2 or np.ndim(zero_filled) != 2 or np.ndim(recon) != 2:
        raise ValueError('reconstruction_panel wants 2-D images; got '
                         f'zero_filled {np.shape(zero_filled)}, recon '
                         f'{np.shape(recon)}, sr {sr.shape}')
    reference = sr if gt is None else np.asarray(gt, np.float64)
    if reference.shape != sr.shape:
        raise ValueError(f'gt has shape {reference.shape}, sr {sr.shape}')
    low, high = float(reference.min()), float(reference.max())
    panels = [
        ('zero-filled', _grey(_nearest(zero_filled, sr.shape), low, high)),
        ('reconstruction', _grey(_nearest(recon, sr.shape), low, high)),
        ('SR', _grey(sr, low, high)),
    ]
    if gt is not None:
        error = _grey(np.abs(sr - reference), 0, error_range * (high - low))
        panels += [('ground truth', _grey(reference, low, high)),
                   ('|SR - GT|',
                    cv2.cvtColor(
                        cv2.applyColorMap(error, cv2.COLORMAP_INFERNO),
                        cv2.COLOR_BGR2RGB))]
    return hstack_panels(panels)
