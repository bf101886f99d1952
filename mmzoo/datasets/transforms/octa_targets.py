"""Loading a FAZ mask and the auxiliary targets of BSDA-Net.

BSDA-Net (Lin et al., "BSDA-Net: A Boundary Shape and Distance Aware Joint
Learning Framework for Segmenting and Classifying OCTA Images", MICCAI 2021)
learns, beside the foveal avascular zone (FAZ) mask, a boundary heatmap and a
signed distance map. The official code (github llmir/MultitaskOCTA,
``Preprocessing/pre_dis.m``) computes both offline in MATLAB from each
augmented mask; here they are computed per sample from the mask as it leaves
the augmentations, with the same formulas.
"""
import math
from typing import Optional, Sequence

import mmcv
import mmengine.fileio as fileio
import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmengine.structures import PixelData
from mmseg.datasets.transforms import PackSegInputs
from scipy import ndimage, signal

from mmzoo.registry import TRANSFORMS

# The official code binarises its masks at 126/255; a mask file here must
# already be binary, coded either way.
BINARY_CODINGS = ({0, 255}, {0, 1})
# 4-connectivity: the official boundary is MATLAB's bwperim(mask, 4).
CROSS = ndimage.generate_binary_structure(2, 1)


def read_faz_mask(content: bytes, path: str) -> np.ndarray:
    """Decode a FAZ mask file's bytes as a uint8 0/1 array.

    The mask must hold two values at most, coded 0/255 (OCTA-500, FAZID) or
    0/1; anything else (a mask saved with anti-aliasing or JPEG artefacts, say)
    is refused with the file and the values found, rather than thresholded
    silently. A three-channel mask is accepted when its channels are equal.
    """
    mask = mmcv.imfrombytes(content, flag='unchanged', backend='cv2')
    if mask is None:
        raise ValueError(f'could not decode the FAZ mask {path} '
                         f'({len(content)} bytes)')
    if mask.ndim == 3 and all(
            np.array_equal(mask[..., 0], mask[..., c])
            for c in range(1, mask.shape[2])):
        mask = mask[..., 0]
    if mask.ndim != 2:
        raise ValueError(f'FAZ mask {path} must be a single-channel '
                         f'image, got shape {mask.shape}')
    values = set(np.unique(mask).tolist())
    if not any(values <= coding for coding in BINARY_CODINGS):
        raise ValueError(
            f'FAZ mask {path} is not binary: it holds the values '
            f'{sorted(values)[:10]}; expected 0 and 255 (or 0 and 1)')
    return (mask > 0).astype(np.uint8)


@TRANSFORMS.register_module()
class LoadFAZAnnotation(BaseTransform):
    """Load a binary FAZ mask as a 0/1 ``gt_seg_map``.

    The mask is checked as :func:`read_faz_mask` says, and must be the size
    of its image (the image's ``ori_shape`` when an earlier transform
    resized the image); errors name the file.

    Required keys: ``seg_map_path``; ``ori_shape`` or ``img`` when present
    are checked against. Added keys: ``gt_seg_map`` (uint8, 0 background,
    1 FAZ), ``seg_fields``.

    Args:
        backend_args (dict, optional): File backend arguments of
            :func:`mmengine.fileio.get`. Defaults to None.
    """

    def __init__(self, backend_args: Optional[dict] = None) -> None:
        self.backend_args = backend_args

    def transform(self, results: dict) -> dict:
        path = results['seg_map_path']
        mask = read_faz_mask(
            fileio.get(path, backend_args=self.backend_args), path)
        if 'ori_shape' in results:
            expected = tuple(results['ori_shape'][:2])
        elif 'img' in results:
            expected = results['img'].shape[:2]
        else:
            expected = mask.shape
        if mask.shape != tuple(expected):
            raise ValueError(
                f'FAZ mask {path} is {mask.shape[1]}x{mask.shape[0]} but its '
                f'image {results.get("img_path")} is {expected[1]}x'
                f'{expected[0]} (width x height)')
        results['gt_seg_map'] = mask
        results.setdefault('seg_fields', []).append('gt_seg_map')
        return results


def boundary(mask: np.ndarray) -> np.ndarray:
    """MATLAB's ``bwperim(mask, 4)``: the mask's pixels with a 4-neighbour
    outside it; pixels beyond the image count as outside."""
    mask = mask.astype(bool)
    return mask & ~ndimage.binary_erosion(mask, CROSS, border_value=0)


def rescale(values: np.ndarray, low: float = 0., high: float = 1.):
    """MATLAB's ``rescale``: map [min, max] linearly onto [low, high]; a
    constant array maps to ``low``."""
    lo, hi = values.min(), values.max()
    if hi == lo:
        return np.full_like(values, low)
    return low + (values - lo) / (hi - lo) * (high - low)


def boundary_heatmap(mask: np.ndarray, sigma: float = 1.6) -> np.ndarray:
    """The official boundary heatmap of a binary mask, float64 in [0, 1].

    Every boundary pixel ``b`` spreads ``g_b(p) = 0.5 exp(-|p - b|^2 /
    sigma^2)``; the spreads combine as independent probabilities,
    ``1 - prod_b (1 - g_b)``, the result is rescaled to [0, 1] and values
    below 0.01 are zeroed. The product is a sum of logarithms over the
    boundary, i.e. a convolution of the boundary with the kernel
    ``log(1 - g)``, cut where ``g`` falls below 1e-20 (far below float64's
    resolution next to values that survive the 0.01 floor). An empty mask
    gives zeros.
    """
    edge = boundary(mask)
    if not edge.any():
        return np.zeros(mask.shape)
    radius = math.ceil(sigma * math.sqrt(math.log(0.5 / 1e-20)))
    offsets = np.arange(-radius, radius + 1)
    squared = offsets[:, None]**2 + offsets[None, :]**2
    kernel = np.log1p(-0.5 * np.exp(-squared / sigma**2))
    log_miss = signal.fftconvolve(edge.astype(np.float64), kernel, 'same')
    # FFT round-off can push a far pixel's log a hair above zero.
    heat = -np.expm1(np.minimum(log_miss, 0))
    heat = rescale(heat)
    heat[heat < 0.01] = 0
    return heat


def signed_distance_map(mask: np.ndarray) -> np.ndarray:
    """The official signed distance map of a binary mask, float64 in [-1, 1].

    Outside the mask: the Euclidean distance to the mask divided by its
    largest value, in (0, 1]. Inside: minus the distance to the boundary
    (:func:`boundary`) divided by its largest value, in [-1, 0). The
    boundary itself is 0. As ``pre_dis.m``'s ``s_dis11``: ``rescale(d_mask)
    + rescale(d_mask - d_boundary, -1, 0)`` with ``d_x`` MATLAB's
    ``bwdist(x)``.

    Where the official formulas break down the map is defined here: an empty
    mask (``bwdist`` infinite everywhere) gives 1 everywhere, every pixel
    being outside and as far as can be; a mask without interior pixels
    (every pixel on its boundary) gives 0 on the mask rather than MATLAB's
    constant-input ``rescale`` result of -1 everywhere.
    """
    mask = mask.astype(bool)
    if not mask.any():
        return np.ones(mask.shape)
    to_mask = ndimage.distance_transform_edt(~mask)
    to_boundary = ndimage.distance_transform_edt(~boundary(mask))
    inside = to_mask - to_boundary
    if inside.min() == inside.max():
        inside = np.zeros(mask.shape)
    else:
        inside = rescale(inside, -1., 0.)
    return rescale(to_mask) + inside


@TRANSFORMS.register_module()
class GenerateFAZTargets(BaseTransform):
    """BSDA-Net's boundary heatmap and signed distance map from the mask.

    Place it after the geometric augmentations, so that the targets follow
    the augmented mask (the official code also computes them from augmented
    masks). See :func:`boundary_heatmap` and :func:`signed_distance_map`.

    Required keys: ``gt_seg_map``. Added keys: ``gt_heatmap`` (float32,
    H x W, in [0, 1]) and ``gt_sdm`` (float32, H x W, in [-1, 1], negative
    inside the FAZ).

    Args:
        sigma (float): Spread of a boundary pixel's Gaussian in pixels.
            Defaults to 1.6 (official).
    """

    def __init__(self, sigma: float = 1.6) -> None:
        if sigma <= 0:
            raise ValueError(f'sigma must be positive, got {sigma}')
        self.sigma = sigma

    def transform(self, results: dict) -> dict:
        mask = results['gt_seg_map']
        results['gt_heatmap'] = boundary_heatmap(mask,
                                                 self.sigma).astype(np.float32)
        results['gt_sdm'] = signed_distance_map(mask).astype(np.float32)
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}(sigma={self.sigma})'


@TRANSFORMS.register_module()
class PackOCTAInputs(PackSegInputs):
    """mmseg's ``PackSegInputs`` plus BSDA-Net's targets and the eye's
    diagnosis.

    ``inputs`` is a (C, H, W) tensor, C = 1 for a greyscale image; the
    data sample gets ``gt_sem_seg`` (as mmseg packs it), ``gt_heatmap`` and
    ``gt_sdm`` (PixelData of (1, H, W) float32) and ``gt_class`` (a 0-dim
    int64 tensor), each only when present in the results, so that the same
    transform packs unlabelled images for inference.

    Args:
        meta_keys (Sequence[str]): Keys copied into the metainfo. The
            defaults add the subject, field of view and pixel spacing
            (mm per pixel of the original image) to mmseg's.
    """

    def __init__(
        self,
        meta_keys: Sequence[str] = ('img_path', 'seg_map_path', 'ori_shape',
                                    'img_shape', 'pad_shape', 'scale_factor',
                                    'flip', 'flip_direction',
                                    'reduce_zero_label', 'subject_id',
                                    'fov_mm', 'pixel_spacing')
    ) -> None:
        super().__init__(meta_keys=tuple(meta_keys))

    def transform(self, results: dict) -> dict:
        packed = super().transform(results)
        sample = packed['data_samples']
        for key in ('gt_heatmap', 'gt_sdm'):
            if key in results:
                data = np.ascontiguousarray(results[key], dtype=np.float32)
                sample.set_data(
                    {key: PixelData(data=torch.from_numpy(data)[None])})
        if results.get('gt_class') is not None:
            sample.gt_class = torch.tensor(
                int(results['gt_class']), dtype=torch.int64)
        return packed
