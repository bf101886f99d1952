"""K-space degradation for joint MRI reconstruction and super-resolution.

T2Net (Feng et al., "Task Transformer Network for Joint MRI Reconstruction
and Super-Resolution", MICCAI 2021; official code github
chunmeifeng/T2Net, ``fastmri/mri_ixi_t2net.py``) makes its training pairs from
one fully sampled magnitude image:

- the high-resolution target: the image itself (the magnitude of the inverse
  FFT of its k-space);
- the low-resolution target: the magnitude of the inverse FFT of the central
  (H/s) x (W/s) block of its centred k-space (s = 2 officially);
- the network's input: the same central block times a 1D Cartesian mask
  (whole phase-encoding columns kept or dropped), inverse FFT, magnitude:
  the zero-filled undersampled low-resolution image.

The official mask file ``1D-Cartesian_6X_128128.mat`` keeps 38 of 128
columns: the 20 central ones and, outside them, 18 of 108 (1 in 6, hence
"6X"). :func:`cartesian_mask` draws such masks with fastMRI's
``RandomMaskFunc`` centre and column probabilities, and ``'official_6x'`` in
:data:`MASK_PRESETS` reproduces the file's statistics at any width.

Conventions. K-space is ``fftshift(fft2(x, norm='forward'))`` (DC at index
N // 2) and images come back through ``ifft2(ifftshift(k), norm='forward')``;
the image itself is not shifted, so pixel m of a low-resolution image is the
sample at high-resolution pixel s*m (for a band-limited image, exactly) and
the intensities keep their units at every scale. The official code's numpy
FFTs with default norms make the x2 image 4 times brighter than the HR one;
keeping the units lets the zero-filled + bicubic baseline be compared with
the HR target at all.
"""
from typing import Sequence, Tuple, Union

import h5py
import nibabel as nib
import numpy as np
import torch
import torch.nn.functional as F
from mmcv.transforms import BaseTransform
from mmengine.structures import BaseDataElement
from nibabel.filebasedimages import ImageFileError
from scipy.io import loadmat

from mmzoo.registry import TRANSFORMS

# Statistics of the official mask file 1D-Cartesian_6X_128128.mat: 38 of 128
# columns sampled, 20 of them the fully sampled centre.
MASK_PRESETS = dict(
    official_6x=dict(sampling_rate=38 / 128, center_fraction=20 / 128))

# Slice statistics are divided by std + NORM_EPS, as the official
# normalize_instance(img, eps=1e-11).
NORM_EPS = 1e-11


def to_kspace(image: np.ndarray) -> np.ndarray:
    """The centred k-space (DC at index N // 2) of the last two axes, scaled so
    that :func:`to_image` of a central crop keeps intensities."""
    return np.fft.fftshift(np.fft.fft2(image, norm='forward'), axes=(-2, -1))


def to_image(kspace: np.ndarray) -> np.ndarray:
    """The complex image of a centred k-space (inverse of :func:`to_kspace` at
    any size)."""
    return np.fft.ifft2(
        np.fft.ifftshift(kspace, axes=(-2, -1)), norm='forward')


def crop_kspace(kspace: np.ndarray, shape: Tuple[int, int]) -> np.ndarray:
    """The central ``shape`` (n, m) block of a centred k-space.

    DC stays centred: at index (n // 2, m // 2) of the block.
    """
    rows, cols = kspace.shape[-2:]
    top, left = rows // 2 - shape[0] // 2, cols // 2 - shape[1] // 2
    return kspace[..., top:top + shape[0], left:left + shape[1]]


def cartesian_mask(
        num_cols: int,
        sampling_rate: float,
        center_fraction: float,
        rng: Union[int, np.random.Generator, None] = None) -> np.ndarray:
    """A 1D Cartesian random mask over k-space columns.

    fastMRI's ``RandomMaskFunc`` (``fastmri/data/subsample.py``, with
    acceleration = 1 / sampling_rate) keeps the ``round(num_cols *
    center_fraction)`` central columns, starting at column ``(num_cols -
    num_center + 1) // 2``, and every other column with the probability that
    makes the expected number kept ``num_cols * sampling_rate``. This mask
    keeps the same centre and gives every other column the same
    probability, but keeps exactly ``round(num_cols * sampling_rate)``
    columns: fastMRI draws a new mask per slice, so its Binomial count
    averages out, while here one mask serves a whole dataset, as the
    official T2Net mask file does (it keeps exactly 20 + 108 / 6 = 38 of
    128), and a lucky or unlucky draw would change the acceleration of the
    whole experiment (a Bernoulli draw over 27 outside columns at p = 1/6
    keeps 2 of them about as often as 6).

    Args:
        num_cols (int): Number of k-space columns (the width).
        sampling_rate (float): Fraction of columns kept, at least the centre
            fraction.
        center_fraction (float): Fraction of fully sampled central columns.
        rng (int | np.random.Generator, optional): Seed or generator.

    Returns:
        np.ndarray: Boolean mask of shape (num_cols,).
    """
    num_center = int(round(num_cols * center_fraction))
    num_kept = int(round(num_cols * sampling_rate))
    if not 0 <= num_center <= num_kept <= num_cols:
        raise ValueError(
            f'sampling_rate {sampling_rate} ({num_kept} of {num_cols} '
            f'columns) must lie between the centre fraction ({num_center} '
            'columns) and 1')
    rng = np.random.default_rng(rng)
    mask = np.zeros(num_cols, bool)
    start = (num_cols - num_center + 1) // 2
    mask[start:start + num_center] = True
    mask[rng.choice(
        np.flatnonzero(~mask), num_kept - num_center, replace=False)] = True
    return mask


def load_mask_file(path: str, shape: Tuple[int, int]) -> np.ndarray:
    """Columns kept by a mask saved as ``.mat`` (variable ``mask``, as the
    official files) or ``.npy``: a (rows, cols) array constant down each
    column, or a (cols,) vector."""
    if path.endswith('.mat'):
        mat = loadmat(path)
        if 'mask' not in mat:
            raise KeyError(f'{path} holds no variable "mask"')
        mask = np.asarray(mat['mask'])
    elif path.endswith('.npy'):
        mask = np.load(path)
    else:
        raise ValueError(f'mask file {path} must be .mat or .npy')
    if mask.ndim == 2:
        if mask.shape != tuple(shape):
            raise ValueError(f'mask {path} is {mask.shape}, the '
                             f'low-resolution k-space is {tuple(shape)}')
        if not (mask == mask[:1]).all():
            raise ValueError(f'mask {path} is not 1D Cartesian: its columns '
                             'are not constant')
        mask = mask[0]
    if mask.shape != (shape[1], ):
        raise ValueError(f'mask {path} has {mask.shape[-1]} columns, the '
                         f'low-resolution k-space {shape[1]}')
    return mask.astype(bool)


def bicubic_upsample(image: np.ndarray, scale: int) -> np.ndarray:
    """Bicubic interpolation of a low-resolution image from a k-space crop onto
    the high-resolution grid.

    Low-resolution pixel m sits at high-resolution pixel ``scale * m`` (see
    the module's conventions), so these samples are kept exactly and the
    others interpolated with the cubic convolution kernel (a = -0.75,
    PyTorch's); the image is extended periodically, as k-space implies.
    Interpolating as if pixels were ``scale`` x ``scale`` blocks
    (``F.interpolate`` with align_corners=False) would shift the result by
    (scale - 1) / 2 pixels.

    Args:
        image (np.ndarray): (..., h, w) low-resolution images.
        scale (int): Upsampling factor.

    Returns:
        np.ndarray: (..., h * scale, w * scale) float32 images.
    """
    lead, (rows, cols) = image.shape[:-2], image.shape[-2:]
    pad = 2  # the cubic kernel's reach
    padded = torch.from_numpy(
        np.pad(
            np.asarray(image, np.float64).reshape(-1, rows, cols),
            ((0, 0), (pad, pad), (pad, pad)),
            mode='wrap'))[:, None]
    ys = (np.arange(rows * scale) / scale + pad) / (rows + 2 * pad - 1)
    xs = (np.arange(cols * scale) / scale + pad) / (cols + 2 * pad - 1)
    grid = np.stack(np.meshgrid(xs, ys), -1) * 2 - 1
    grid = torch.from_numpy(grid)[None].expand(padded.shape[0], -1, -1, -1)
    out = F.grid_sample(
        padded,
        grid,
        mode='bicubic',
        padding_mode='border',
        align_corners=True)
    return out[:,
               0].numpy().astype(np.float32).reshape(*lead, rows * scale,
                                                     cols * scale)


@TRANSFORMS.register_module()
class LoadIXISlice(BaseTransform):
    """Load one axial slice of an IXI NIfTI volume as a float32 image.

    The slice ``data[:, :, slice_index]`` is turned 90 degrees
    counter-clockwise, the orientation the official code trains in (it
    rotates with ``cv2.warpAffine`` about (128, 128), which also moves the
    image by one pixel; ``np.rot90`` does not).

    Required keys: ``img_path``, ``slice_index``. Added: ``img`` (H, W),
    ``img_shape``, ``ori_shape``.
    """

    def transform(self, results: dict) -> dict:
        path, index = results['img_path'], results['slice_index']
        try:
            proxy = nib.load(path).dataobj
        except (ImageFileError, OSError, EOFError) as error:
            raise ValueError(f'{path} is not a readable NIfTI volume: '
                             f'{error}') from error
        if len(proxy.shape) != 3:
            raise ValueError(f'{path}: expected a 3D volume, got shape '
                             f'{tuple(proxy.shape)}')
        if not 0 <= index < proxy.shape[2]:
            raise IndexError(f'{path}: slice {index} outside the volume of '
                             f'{proxy.shape[2]} slices')
        try:
            image = np.rot90(np.asarray(proxy[:, :, index], np.float32))
        except (OSError, EOFError, ValueError) as error:
            raise ValueError(f'{path}: could not read slice {index} '
                             f'({error})') from error
        results['img'] = np.ascontiguousarray(image)
        results['img_shape'] = results['ori_shape'] = image.shape
        return results


@TRANSFORMS.register_module()
class LoadFastMRISlice(BaseTransform):
    """Load one slice of a fastMRI single-coil file as a float32 magnitude
    image from its k-space.

    The image is fastMRI's: the magnitude of the centred inverse FFT of
    ``kspace[slice_index]``, cropped about its centre to the size of
    ``reconstruction_esc`` (320 x 320 in the released knee data; the raw
    k-space is oversampled along the readout).

    Required keys: ``img_path``, ``slice_index``. Added: ``img`` (H, W),
    ``img_shape``, ``ori_shape``.
    """

    def transform(self, results: dict) -> dict:
        path, index = results['img_path'], results['slice_index']
        with h5py.File(path, 'r') as f:
            for key in ('kspace', 'reconstruction_esc'):
                if key not in f:
                    raise KeyError(f'{path} has no dataset {key!r}')
            kspace = f['kspace']
            if not np.issubdtype(kspace.dtype, np.complexfloating):
                raise TypeError(f'{path}: kspace must be complex, got '
                                f'{kspace.dtype}')
            if kspace.ndim != 3:
                raise ValueError(f'{path}: kspace must be (slices, rows, '
                                 f'cols), got shape {kspace.shape}')
            if not 0 <= index < kspace.shape[0]:
                raise IndexError(f'{path}: slice {index} outside the volume '
                                 f'of {kspace.shape[0]} slices')
            slice_kspace = kspace[index]
            crop = f['reconstruction_esc'].shape[-2:]
        # fastMRI's ifft2c: the image is centred too, and the FFT orthonormal.
        image = np.abs(
            np.fft.fftshift(
                np.fft.ifft2(np.fft.ifftshift(slice_kspace), norm='ortho')))
        rows, cols = image.shape
        if crop[0] > rows or crop[1] > cols:
            raise ValueError(f'{path}: reconstruction_esc {crop} is larger '
                             f'than the k-space image {image.shape}')
        top, left = (rows - crop[0]) // 2, (cols - crop[1]) // 2
        image = image[top:top + crop[0], left:left + crop[1]]
        results['img'] = image.astype(np.float32)
        results['img_shape'] = results['ori_shape'] = image.shape
        return results


@TRANSFORMS.register_module()
class KSpaceDegrade(BaseTransform):
    """Make T2Net's targets and input from a fully sampled magnitude image.

    With k = the centred k-space of ``img`` (H x W) and K its central
    (H/s) x (W/s) block:

    - ``gt_hr`` (H, W): ``img`` (the SR branch's target);
    - ``gt_lr`` (H/s, W/s): ``|ifft(K)|`` (the reconstruction branch's);
    - ``zero_filled`` (H/s, W/s): ``|ifft(K * mask)|`` (the input), the
      mask keeping whole columns.

    The mask is drawn once per width with ``mask_seed`` and then fixed, as
    the official code reads one mask file for every slice.

    With ``normalize`` all three are standardised with the mean and standard
    deviation of ``img`` (the official instance normalisation, eps 1e-11),
    recorded as ``norm_mean`` and ``norm_std`` so that metrics are computed
    in the image's own units as the official code does. The official code
    standardises before the FFT and then takes magnitudes, which folds every
    value below the slice mean (after de-normalising, x becomes 2 * mean -
    x); standardising the magnitudes keeps the targets the image itself.

    Required key: ``img``. Added: ``gt_hr``, ``gt_lr``, ``zero_filled``
    (float32), ``scale``, ``norm_mean``, ``norm_std`` (0 and 1 without
    ``normalize``).

    Args:
        scale (int): Super-resolution factor, 2 (official) or 4.
        mask (str | dict): A name in :data:`MASK_PRESETS` ('official_6x'),
            :func:`cartesian_mask` arguments ``dict(sampling_rate=...,
            center_fraction=...)``, or a ``.mat``/``.npy`` mask file of the
            low-resolution size (the official 1D-Cartesian_6X_128128.mat for
            x2 of 256 x 256 IXI slices). Defaults to 'official_6x'.
        mask_seed (int): Seed of the random mask. Defaults to 0.
        normalize (bool): Standardise as described. Defaults to True.
    """

    def __init__(self,
                 scale: int = 2,
                 mask: Union[str, dict] = 'official_6x',
                 mask_seed: int = 0,
                 normalize: bool = True) -> None:
        if scale not in (2, 4):
            raise ValueError(f'scale must be 2 or 4, got {scale}')
        if isinstance(mask, str) and not mask.endswith(('.mat', '.npy')):
            if mask not in MASK_PRESETS:
                raise KeyError(f'unknown mask preset {mask!r}; presets: '
                               f'{sorted(MASK_PRESETS)}, or give a dict of '
                               'cartesian_mask arguments or a mask file')
        elif isinstance(mask, dict):
            unknown = set(mask) - {'sampling_rate', 'center_fraction'}
            if unknown:
                raise KeyError(f'mask {mask} has unknown keys '
                               f'{sorted(unknown)}')
        elif not isinstance(mask, (str, dict)):
            raise TypeError(f'mask must be a preset name, a dict or a mask '
                            f'file, got {mask!r}')
        self.scale = scale
        self.mask = mask
        self.mask_seed = mask_seed
        self.normalize = normalize
        self._masks = {}

    def column_mask(self, shape: Tuple[int, int]) -> np.ndarray:
        """The columns kept in a low-resolution k-space of ``shape``."""
        if shape not in self._masks:
            if isinstance(self.mask, dict):
                args = self.mask
            elif self.mask in MASK_PRESETS:
                args = MASK_PRESETS[self.mask]
            else:
                self._masks[shape] = load_mask_file(self.mask, shape)
                return self._masks[shape]
            self._masks[shape] = cartesian_mask(
                shape[1], rng=self.mask_seed, **args)
        return self._masks[shape]

    def transform(self, results: dict) -> dict:
        image = np.asarray(results['img'], np.float64)
        rows, cols = image.shape
        if rows % self.scale or cols % self.scale:
            raise ValueError(
                f'{results.get("img_path")}: a {rows} x {cols} image cannot '
                f'be reduced {self.scale} times')
        lr_shape = (rows // self.scale, cols // self.scale)
        kspace = crop_kspace(to_kspace(image), lr_shape)
        gt_lr = np.abs(to_image(kspace))
        zero_filled = np.abs(
            to_image(kspace * self.column_mask(lr_shape)[None]))
        mean, std = 0.0, 1.0
        if self.normalize:
            mean, std = float(image.mean()), float(image.std()) + NORM_EPS
        for key, value in (('gt_hr', image), ('gt_lr', gt_lr), ('zero_filled',
                                                                zero_filled)):
            results[key] = ((value - mean) / std).astype(np.float32)
        results.update(scale=self.scale, norm_mean=mean, norm_std=std)
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(scale={self.scale}, '
                f'mask={self.mask!r}, mask_seed={self.mask_seed}, '
                f'normalize={self.normalize})')


@TRANSFORMS.register_module()
class PackMRIInputs(BaseTransform):
    """Pack :class:`KSpaceDegrade`'s output for T2Net.

    Returns ``dict(inputs, data_samples)``: ``inputs`` the zero-filled image
    as a (1, h, w) float32 tensor, ``data_samples`` a ``BaseDataElement``
    with data fields ``gt_hr`` (1, H, W), ``gt_lr`` and ``zero_filled``
    (1, h, w) and the metainfo of ``meta_keys``.

    Args:
        meta_keys (Sequence[str]): Keys copied into the metainfo.
    """

    def __init__(
        self,
        meta_keys: Sequence[str] = ('img_path', 'slice_index', 'volume_id',
                                    'scale', 'voxel_size', 'norm_mean',
                                    'norm_std')
    ) -> None:
        self.meta_keys = tuple(meta_keys)

    def transform(self, results: dict) -> dict:
        missing = [
            key for key in ('gt_hr', 'gt_lr', 'zero_filled', *self.meta_keys)
            if key not in results
        ]
        if missing:
            raise KeyError(f'{results.get("img_path")}: PackMRIInputs needs '
                           f'{missing}; run KSpaceDegrade first')
        fields = {
            key: torch.from_numpy(np.ascontiguousarray(results[key]))[None]
            for key in ('gt_hr', 'gt_lr', 'zero_filled')
        }
        sample = BaseDataElement(
            metainfo={key: results[key]
                      for key in self.meta_keys}, **fields)
        return dict(inputs=fields['zero_filled'].clone(), data_samples=sample)

    def __repr__(self) -> str:
        return f'{type(self).__name__}(meta_keys={self.meta_keys})'
