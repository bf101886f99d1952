"""Transforms for bitemporal change detection.

Both dates travel through the pipeline as ONE H x W x 6 image (date A's RGB
channels, then date B's), so every geometric transform that handles an image
and its segmentation maps moves A, B and the label together: mmseg's
``RandomCrop`` (one window, optional ``cat_max_ratio``) and ``RandomFlip`` work
unchanged on it and are used as they are. What the stacked layout cannot give
for free lives here: loading and checking a pair, the change label's 0/255
coding, rotation on an expanded canvas as the official STANet does, photometric
distortion drawn independently per date, and packing.
"""
from typing import Optional, Sequence, Tuple

import cv2
import mmcv
import mmengine.fileio as fileio
import numpy as np
from mmcv.transforms import BaseTransform
from mmseg.datasets.transforms import PackSegInputs, PhotoMetricDistortion

from mmzoo.registry import TRANSFORMS

# LEVIR-CD codes change as 255 and no change as 0.
LABEL_VALUES = {0: 0, 255: 1}


def decode_image(content: bytes, path: str, **kwargs) -> np.ndarray:
    """:func:`mmcv.imfrombytes` (``kwargs`` are its arguments) with an error
    naming ``path`` when ``content`` is no image.

    mmcv returns None for bytes that are no image but raises a bare
    ``cv2.error`` for an empty file, naming neither.
    """
    try:
        image = mmcv.imfrombytes(content, **kwargs)
    except Exception as error:  # cv2.error has no narrower base class
        detail = str(error).strip().splitlines()[-1] if str(error) else ''
        raise ValueError(f'could not decode the image {path} '
                         f'({len(content)} bytes): {detail}') from error
    if image is None:
        raise ValueError(f'could not decode the image {path} '
                         f'({len(content)} bytes): not an image file')
    return image


def check_change_label(label: np.ndarray, path: str) -> None:
    """Refuse a change label that is not single-channel 0/255, naming ``path``
    and the values found."""
    if label.ndim != 2:
        raise ValueError(f'change label {path} must be a single-channel '
                         f'8-bit image, got shape {label.shape}')
    # A 256-bin count finds stray values much faster than np.unique's sort.
    counts = np.bincount(label.ravel(), minlength=256) if \
        label.dtype == np.uint8 else None
    values = np.flatnonzero(counts) if counts is not None else np.unique(label)
    bad = [int(v) for v in values if int(v) not in LABEL_VALUES]
    if bad:
        raise ValueError(
            f'change label {path} holds values {bad[:10]}; only 0 '
            '(unchanged) and 255 (changed) are allowed')


@TRANSFORMS.register_module()
class LoadBitemporalImages(BaseTransform):
    """Load the two dates of a pair as one H x W x 6 uint8 RGB image.

    Required keys: ``img_path_a``, ``img_path_b``. Added keys: ``img``
    (date A's channels 0-2, date B's 3-5), ``img_shape``, ``ori_shape``.

    Args:
        imdecode_backend (str): Backend of :func:`mmcv.imfrombytes`.
            Defaults to 'cv2'.
        backend_args (dict, optional): File backend arguments of
            :func:`mmengine.fileio.get`. Defaults to None.
    """

    def __init__(self,
                 imdecode_backend: str = 'cv2',
                 backend_args: Optional[dict] = None) -> None:
        self.imdecode_backend = imdecode_backend
        self.backend_args = backend_args

    def _read(self, path: str) -> np.ndarray:
        return decode_image(
            fileio.get(path, backend_args=self.backend_args),
            path,
            flag='color',
            channel_order='rgb',
            backend=self.imdecode_backend)

    def transform(self, results: dict) -> dict:
        path_a, path_b = results['img_path_a'], results['img_path_b']
        image_a, image_b = self._read(path_a), self._read(path_b)
        if image_a.shape != image_b.shape:
            raise ValueError(
                f'the dates of a pair differ in size: {path_a} is '
                f'{image_a.shape[1]}x{image_a.shape[0]}, {path_b} is '
                f'{image_b.shape[1]}x{image_b.shape[0]} (width x height)')
        results['img'] = np.concatenate([image_a, image_b], axis=2)
        results['img_shape'] = image_a.shape[:2]
        results['ori_shape'] = image_a.shape[:2]
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(imdecode_backend='
                f'{self.imdecode_backend!r})')


@TRANSFORMS.register_module()
class LoadChangeLabel(BaseTransform):
    """Load a 0/255 change label as a 0/1 ``gt_seg_map``.

    Any other value (a label saved with anti-aliasing or as a palette index,
    say) is refused with the file and the values found, rather than mapped to
    a class silently. Required key: ``seg_map_path``; added: ``gt_seg_map``
    (uint8, 0 unchanged, 1 changed), ``seg_fields``.

    Args:
        backend_args (dict, optional): File backend arguments of
            :func:`mmengine.fileio.get`. Defaults to None.
    """

    def __init__(self, backend_args: Optional[dict] = None) -> None:
        self.backend_args = backend_args

    def transform(self, results: dict) -> dict:
        path = results['seg_map_path']
        label = decode_image(
            fileio.get(path, backend_args=self.backend_args),
            path,
            flag='unchanged',
            backend='cv2')
        check_change_label(label, path)
        if 'img' in results and label.shape != results['img'].shape[:2]:
            raise ValueError(
                f'change label {path} is {label.shape[1]}x{label.shape[0]} '
                f'but its images are {results["img"].shape[1]}x'
                f'{results["img"].shape[0]} (width x height)')
        results['gt_seg_map'] = (label == 255).astype(np.uint8)
        results.setdefault('seg_fields', []).append('gt_seg_map')
        return results


@TRANSFORMS.register_module()
class BitemporalRandomRotate(BaseTransform):
    """Rotate both dates and the label by one random angle.

    The official STANet rotates every training pair by an angle drawn from
    [0, 15] degrees (counter-clockwise, PIL's ``rotate`` with nearest
    resampling) on a canvas expanded to hold the whole rotated image, then
    crops. The images' new corners are grey 128 as officially (it composites
    the rotated image over a grey canvas, ``__rotate`` in its
    ``data/base_dataset.py``), which the [-1, 1] normalisation maps to about
    0. The label's new corners get ``seg_pad_val`` (the ignore index) so that
    the loss and the metric skip them; the official code labels them
    "unchanged".

    Args:
        prob (float): Probability of rotating. Defaults to 1.0 (official).
        degree (tuple[float]): Range of the angle in degrees, positive
            counter-clockwise. Defaults to (0, 15) (official).
        expand (bool): Grow the canvas to hold the whole rotated image
            (official) instead of cutting the corners. Defaults to True.
        interpolation (str): Interpolation of the images; labels always use
            nearest. Defaults to 'nearest' (PIL's default, which the official
            code uses).
        pad_val (int): Value of new image pixels. Defaults to 128
            (official).
        seg_pad_val (int): Value of new label pixels. Defaults to 255.
    """

    def __init__(self,
                 prob: float = 1.0,
                 degree: Tuple[float, float] = (0, 15),
                 expand: bool = True,
                 interpolation: str = 'nearest',
                 pad_val: int = 128,
                 seg_pad_val: int = 255) -> None:
        if not 0 <= prob <= 1:
            raise ValueError(f'prob must be in [0, 1], got {prob}')
        if len(degree) != 2 or degree[0] > degree[1]:
            raise ValueError(f'degree must be (min, max), got {degree}')
        self.prob = prob
        self.degree = tuple(degree)
        self.expand = expand
        self.interpolation = interpolation
        self.pad_val = pad_val
        self.seg_pad_val = seg_pad_val

    def _rotate(self, image, angle, border_value, interpolation):

        def rotate(x, value):
            # mmcv's positive angles turn clockwise.
            return mmcv.imrotate(
                x,
                -angle,
                border_value=value,
                interpolation=interpolation,
                auto_bound=self.expand)

        if image.ndim == 2:
            return rotate(image, border_value)
        # OpenCV fills at most four channels with a border value (the rest
        # with 0), and a pair has six: one channel at a time, as the label.
        return np.stack([rotate(c, border_value) for c in cv2.split(image)],
                        axis=2)

    def transform(self, results: dict) -> dict:
        if np.random.rand() >= self.prob:
            return results
        angle = np.random.uniform(*self.degree)
        results['img'] = self._rotate(results['img'], angle, self.pad_val,
                                      self.interpolation)
        for key in results.get('seg_fields', []):
            results[key] = self._rotate(results[key], angle, self.seg_pad_val,
                                        'nearest')
        results['img_shape'] = results['img'].shape[:2]
        results['rotate_degree'] = angle
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(prob={self.prob}, '
                f'degree={self.degree}, expand={self.expand}, '
                f'interpolation={self.interpolation!r})')


@TRANSFORMS.register_module()
class BitemporalPhotoMetricDistortion(BaseTransform):
    """mmseg's ``PhotoMetricDistortion`` drawn independently for each date.

    Two acquisitions differ in light and colour independently of each
    other, so each date gets its own brightness, contrast, saturation and
    hue draw. The arguments are those of
    :class:`mmseg.datasets.transforms.PhotoMetricDistortion`.
    """

    def __init__(self, **kwargs) -> None:
        self.distortion = PhotoMetricDistortion(**kwargs)

    def _distort(self, rgb: np.ndarray) -> np.ndarray:
        # mmseg's distortion converts to HSV assuming BGR order.
        bgr = np.ascontiguousarray(rgb[..., ::-1])
        out = self.distortion.transform(dict(img=bgr))['img']
        return np.ascontiguousarray(out[..., ::-1])

    def transform(self, results: dict) -> dict:
        image = results['img']
        results['img'] = np.concatenate(
            [self._distort(image[..., :3]),
             self._distort(image[..., 3:])],
            axis=2)
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}({self.distortion!r})'


@TRANSFORMS.register_module()
class PackBitemporalInputs(PackSegInputs):
    """mmseg's ``PackSegInputs`` for a pair: ``inputs`` is a (6, H, W) uint8
    tensor (date A's channels, then date B's) and the data sample's metainfo
    also names both dates' files.

    Args:
        meta_keys (Sequence[str]): Keys copied into the metainfo.
    """

    def __init__(
        self,
        meta_keys: Sequence[str] = ('img_path', 'img_path_a', 'img_path_b',
                                    'seg_map_path', 'ori_shape', 'img_shape',
                                    'pad_shape', 'scale_factor', 'flip',
                                    'flip_direction', 'reduce_zero_label')
    ) -> None:
        super().__init__(meta_keys=tuple(meta_keys))

    def transform(self, results: dict) -> dict:
        image = results['img']
        if image.ndim != 3 or image.shape[2] != 6:
            raise ValueError(
                f'{results.get("img_path_b")}: a bitemporal input must be '
                f'H x W x 6 (A then B), got shape {image.shape}')
        return super().transform(results)
