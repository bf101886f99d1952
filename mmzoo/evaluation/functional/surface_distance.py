"""Overlap and surface-distance scores of binary masks, in physical units.

The surface distances follow medpy's definitions (``medpy.metric.binary``
``hd95`` and ``assd`` with ``connectivity=1``) and give its values bit for
bit: a mask's surface is its foreground minus its erosion by the
connectivity-1 structure (pixels outside the image count as background), and
each surface pixel of one mask is paired with the Euclidean distance, with
the given spacing, to the nearest surface pixel of the other. BSDA-Net's
official evaluation (github llmir/MultitaskOCTA, ``evaluate.py``) uses
DeepMind's surface-distance package at a spacing of one pixel instead, whose
surface elements and their weighting differ slightly.

Both masks are cut to the bounding box of their union before any
morphology or distance transform: every surface pixel lies inside it, so
the distances are those of the whole image, and a FAZ of a few thousand
pixels costs a few thousand pixels' work rather than the image's.

Masks with nothing in them have no surface, where medpy raises. Here:

- both empty: the masks agree, every score is perfect (Dice and Jaccard 1,
  HD95 and ASSD 0);
- one empty: HD95 and ASSD are ``inf`` (the Hausdorff distance between a
  set and the empty set is infinite by convention), Dice and Jaccard 0.
"""
import math
from typing import Sequence, Tuple, Union

import numpy as np
from scipy import ndimage

Spacing = Union[float, Sequence[float]]


def _masks(pred, gt) -> Tuple[np.ndarray, np.ndarray]:
    pred, gt = np.asarray(pred), np.asarray(gt)
    if pred.shape != gt.shape:
        raise ValueError(f'the prediction has shape {pred.shape} and the '
                         f'ground truth {gt.shape}; they must be equal')
    if pred.ndim == 0:
        raise ValueError('masks must have at least one dimension, got '
                         'scalars')
    # Nonzero is foreground, as medpy reads its input.
    return pred.astype(bool, copy=False), gt.astype(bool, copy=False)


def _spacing(spacing: Spacing, ndim: int) -> np.ndarray:
    spacing = np.asarray(spacing, dtype=np.float64)
    if spacing.ndim == 0:
        spacing = np.full(ndim, float(spacing))
    if spacing.shape != (ndim, ):
        raise ValueError(f'spacing must be one number or {ndim} (one per '
                         f'mask axis), got {spacing.tolist()}')
    if not (np.isfinite(spacing).all() and (spacing > 0).all()):
        raise ValueError(
            f'spacing must be positive and finite, got {spacing.tolist()}')
    return spacing


def _surface(mask: np.ndarray) -> np.ndarray:
    """Foreground pixels with a background pixel among their connectivity-1
    neighbours: medpy's ``mask ^ binary_erosion(mask, structure)``.

    ``mask`` has a background border one pixel wide, which stands for the
    background that the erosion assumes outside the image; the returned
    surface is that of the pixels inside the border.
    """
    inner = tuple(slice(1, -1) for _ in range(mask.ndim))
    interior = mask[inner].copy()
    for axis in range(mask.ndim):
        for start in (0, 2):
            shifted = list(inner)
            shifted[axis] = slice(start, mask.shape[axis] - 2 + start)
            interior &= mask[tuple(shifted)]
    return mask[inner] & ~interior


def _nearest_distances(queries: np.ndarray, targets: np.ndarray,
                       spacing: np.ndarray) -> np.ndarray:
    """Distance from each ``queries`` pixel to the nearest ``targets`` pixel.

    scipy's feature transform finds the nearest target of every pixel; the
    distances are then formed for the query pixels only, with the arithmetic of
    ``distance_transform_edt`` (offset times spacing, squared, summed over the
    axes in order, square root), so they equal its values exactly.
    """
    nearest = ndimage.distance_transform_edt(
        ~targets,
        sampling=spacing,
        return_distances=False,
        return_indices=True)
    where = np.nonzero(queries)
    squares = [((axis_nearest[where] - index).astype(np.float64) * step)**2
               for axis_nearest, index, step in zip(nearest, where, spacing)]
    return np.sqrt(np.add.reduce(squares, axis=0))


def _bounding_box(mask: np.ndarray) -> tuple:
    box = []
    for axis in range(mask.ndim):
        others = tuple(a for a in range(mask.ndim) if a != axis)
        present = np.flatnonzero(mask.any(axis=others))
        box.append(slice(present[0], present[-1] + 1))
    return tuple(box)


def _pad(mask: np.ndarray) -> np.ndarray:
    padded = np.zeros([n + 2 for n in mask.shape], bool)
    padded[tuple(slice(1, -1) for _ in range(mask.ndim))] = mask
    return padded


def surface_distances(pred, gt, spacing: Spacing = 1.0):
    """Distances between the surfaces of two binary masks, in both directions.

    Args:
        pred (array-like): Predicted mask, nonzero where foreground.
        gt (array-like): Ground-truth mask of the same shape.
        spacing (float | sequence[float]): Size of a pixel along each axis
            (``(sy, sx)`` for an image), in the unit the distances are wanted
            in, millimetres usually. Defaults to 1 (pixels).

    Returns:
        tuple[np.ndarray, np.ndarray]: The distance from every surface pixel
        of ``pred`` to the surface of ``gt``, then from every surface pixel
        of ``gt`` to the surface of ``pred`` (float64, row-major order of
        the pixels). Both are empty when both masks are; when only one mask
        is empty, the distances from the other are ``inf``.
    """
    pred, gt = _masks(pred, gt)
    spacing = _spacing(spacing, pred.ndim)
    union = pred | gt
    if not union.any():
        return np.zeros(0), np.zeros(0)
    # The union's bounding box and one background pixel around it, so that
    # the surfaces are found as on the whole image (outside the box every
    # pixel is background, and so is outside the image).
    box = _bounding_box(union)
    pred_surface = _surface(_pad(pred[box]))
    gt_surface = _surface(_pad(gt[box]))
    if not (pred_surface.any() and gt_surface.any()):
        return (np.full(np.count_nonzero(pred_surface),
                        np.inf), np.full(np.count_nonzero(gt_surface), np.inf))
    return (_nearest_distances(pred_surface, gt_surface, spacing),
            _nearest_distances(gt_surface, pred_surface, spacing))


def surface_scores(pred, gt, spacing: Spacing = 1.0) -> Tuple[float, float]:
    """HD95 and ASSD together, from one computation of the surface distances
    (what :func:`hd95` and :func:`assd` each compute).

    Args:
        pred (array-like): Predicted binary mask, nonzero where foreground.
        gt (array-like): Ground-truth mask of the same shape.
        spacing (float | sequence[float]): Pixel size per axis, e.g. in mm.
            Defaults to 1 (pixels).

    Returns:
        tuple[float, float]: ``(hd95, assd)``; both 0 when both masks are
        empty, ``inf`` when one is.
    """
    distances = np.concatenate(surface_distances(pred, gt, spacing))
    if distances.size == 0:
        return 0.0, 0.0
    if np.isinf(distances[0]):  # one mask is empty: all are inf
        return math.inf, math.inf
    return float(np.percentile(distances, 95)), float(distances.mean())


def hd95(pred, gt, spacing: Spacing = 1.0) -> float:
    """95th percentile of the symmetric Hausdorff distance, as medpy's
    ``hd95``: the percentile (numpy's linear interpolation) of both
    directions' surface distances together.

    Args:
        pred (array-like): Predicted binary mask, nonzero where foreground.
        gt (array-like): Ground-truth mask of the same shape.
        spacing (float | sequence[float]): Pixel size per axis, e.g. in mm.
            Defaults to 1 (pixels).

    Returns:
        float: 0 when both masks are empty, ``inf`` when one is.
    """
    return surface_scores(pred, gt, spacing)[0]


def assd(pred, gt, spacing: Spacing = 1.0) -> float:
    """Average symmetric surface distance, as medpy's ``assd``: the mean of
    both directions' surface distances together.

    Args:
        pred (array-like): Predicted binary mask, nonzero where foreground.
        gt (array-like): Ground-truth mask of the same shape.
        spacing (float | sequence[float]): Pixel size per axis, e.g. in mm.
            Defaults to 1 (pixels).

    Returns:
        float: 0 when both masks are empty, ``inf`` when one is.
    """
    return surface_scores(pred, gt, spacing)[1]


def dice(pred, gt) -> float:
    """Dice coefficient ``2 |P and G| / (|P| + |G|)`` of two binary masks; 1
    when both are empty."""
    pred, gt = _masks(pred, gt)
    total = np.count_nonzero(pred) + np.count_nonzero(gt)
    if total == 0:
        return 1.0
    return 2.0 * np.count_nonzero(pred & gt) / total


def jaccard(pred, gt) -> float:
    """Jaccard index (IoU) ``|P and G| / |P or G|`` of two binary masks; 1 when
    both are empty."""
    pred, gt = _masks(pred, gt)
    union = np.count_nonzero(pred | gt)
    if union == 0:
        return 1.0
    return np.count_nonzero(pred & gt) / union
