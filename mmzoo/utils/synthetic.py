"""Drawing primitives for small synthetic datasets in real on-disk formats.

Real datasets cannot be downloaded on every machine that runs this project's
tests, so ``tools/dataset_converters/make_synthetic_*.py`` draw
stand-ins laid out exactly as the real ones ship. Each class differs from the
others in both colour family and shape, and every object gets its own
brightness, tint, shading and pixel noise: a model has to learn something to
tell classes apart, yet a few hundred CPU iterations are enough to show it.

Everything here is numpy + cv2 and deterministic given a
:class:`numpy.random.Generator`; what the scripts share around drawing
(seeding, the output folder, atomic writes) is at the bottom of this file,
and their command lines are their own.
"""
import argparse
import json
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import List, Sequence, Tuple, Union

import cv2
import numpy as np

from mmzoo.utils.fileio import atomic_write_bytes

RGB = Tuple[int, int, int]

# Bands span the full width and are meant for 'stuff' such as sky and floor.
SHAPES = ('rectangle', 'disk', 'triangle', 'diamond', 'cross', 'star',
          'top_band', 'bottom_band')


@dataclass(frozen=True)
class Style:
    """How the objects of one class look.

    Args:
        colour (tuple[int]): Base RGB colour; each object is jittered around
            it, so a class is a colour family rather than one value.
        shape (str): One of :data:`SHAPES`.
        scale (tuple[float]): Range of the object's extent (or a band's
            height) as a fraction of the image side.
    """
    colour: RGB
    shape: str
    scale: Tuple[float, float] = (0.2, 0.4)

    def __post_init__(self):
        if self.shape not in SHAPES:
            raise ValueError(f'Unknown shape {self.shape!r}, '
                             f'expected one of {SHAPES}')


@dataclass
class Instance:
    """One drawn object.

    ``polygon`` is the outline as drawn, as (N, 2) (x, y) vertices in COCO's
    continuous image coordinates, where pixel (i, j) covers the unit square
    from (i, j); ``mask`` holds the pixels still visible once later objects
    were drawn on top.
    """
    label: int
    polygon: np.ndarray
    mask: np.ndarray

    @property
    def bbox(self) -> Tuple[float, float, float, float]:
        """Tight (x1, y1, x2, y2) box of the visible pixels."""
        ys, xs = np.nonzero(self.mask)
        return (float(xs.min()), float(ys.min()), float(xs.max() + 1),
                float(ys.max() + 1))


def _star_polygon(cx, cy, rx, ry, num_points, inner=1.0, start=-np.pi / 2):
    """Vertices on an ellipse, alternating with an inner one when ``inner`` is
    below 1 (a star); starting at the top keeps triangles upright."""
    num = num_points * (1 if inner == 1.0 else 2)
    angles = start + 2 * np.pi * np.arange(num) / num
    radius = np.ones(num)
    radius[1::2] = inner
    return np.stack(
        [cx + rx * radius * np.cos(angles), cy + ry * radius * np.sin(angles)],
        axis=1)


def random_polygon(rng: np.random.Generator, style: Style,
                   size: int) -> np.ndarray:
    """A random outline of ``style.shape`` inside a ``size`` square.

    Returns (N, 2) float (x, y) vertices in the coordinates of
    :class:`Instance`.
    """
    lo, hi = style.scale
    if style.shape in ('top_band', 'bottom_band'):
        height = max(1, round(rng.uniform(lo, hi) * size))
        y0, y1 = ((0, height) if style.shape == 'top_band' else
                  (size - height, size))
        return np.array([[0, y0], [size, y0], [size, y1], [0, y1]], float)

    # Independent half-extents vary the aspect ratio; disks stay round so
    # that their shape is what tells them from diamonds and stars.
    rx, ry = rng.uniform(lo, hi, size=2) * size / 2
    if style.shape == 'disk':
        ry = rx
    cx = rng.uniform(rx, size - rx)
    cy = rng.uniform(ry, size - ry)
    if style.shape == 'rectangle':
        return np.array([[cx - rx, cy - ry], [cx + rx, cy - ry],
                         [cx + rx, cy + ry], [cx - rx, cy + ry]])
    if style.shape == 'cross':
        # Arms a third of the extent wide, as on a plus sign.
        a, b = rx / 3, ry / 3
        xs = np.array([-a, a, a, rx, rx, a, a, -a, -a, -rx, -rx, -a])
        ys = np.array([-ry, -ry, -b, -b, b, b, ry, ry, b, b, -b, -b])
        return np.stack([cx + xs, cy + ys], axis=1)
    num_points, inner = {
        'disk': (32, 1.0),
        'triangle': (3, 1.0),
        'diamond': (4, 1.0),
        'star': (5, 0.45)
    }[style.shape]
    return _star_polygon(cx, cy, rx, ry, num_points, inner)


def polygon_mask(polygon: np.ndarray, size: int) -> np.ndarray:
    """The pixels of a ``size`` square whose centres lie inside ``polygon``.

    COCO's rasteriser approximates the same rule, so a mask drawn here matches
    what pycocotools and mmdet decode from the exported polygon (cv2's
    ``fillPoly`` also fills every pixel the outline passes through, which makes
    small shapes visibly larger than their polygon).
    """
    centres = np.arange(size) + 0.5
    inside = np.zeros((size, size), bool)
    # Even-odd rule: a centre is inside if the ray from it to the right
    # crosses the outline an odd number of times.
    for (ax, ay), (bx, by) in zip(polygon, np.roll(polygon, -1, axis=0)):
        crosses = (ay > centres) != (by > centres)  # per row
        t = (centres - ay) / (by - ay if by != ay else 1.0)
        edge_x = ax + t * (bx - ax)
        inside ^= crosses[:, None] & (centres[None, :] < edge_x[:, None])
    return inside


def paint(rng: np.random.Generator, image: np.ndarray, mask: np.ndarray,
          colour: RGB) -> None:
    """Fill ``mask`` of an RGB ``image`` in place with a textured ``colour``.

    Per-object brightness and tint, a linear shading across the image and noise
    per pixel stop a model from matching one exact colour value, while the
    class colours stay far enough apart to remain separable.
    """
    ys, xs = np.nonzero(mask)
    size = max(image.shape[:2])
    base = (
        np.asarray(colour, float) * rng.uniform(0.8, 1.2) +
        rng.normal(0, 6, size=3))
    slope = rng.normal(0, 0.15, size=2)
    shade = 1 + slope[0] * (xs / size - 0.5) + slope[1] * (ys / size - 0.5)
    pixels = base * shade[:, None] + rng.normal(0, 8, size=(len(xs), 3))
    image[ys, xs] = np.clip(np.round(pixels), 0, 255).astype(np.uint8)


def draw_scene(
        rng: np.random.Generator,
        size: int,
        objects: Sequence[Tuple[int, Style]],
        background: RGB,
        background_label: int = 0,
        overlap: bool = True,
        max_tries: int = 20) -> Tuple[np.ndarray, np.ndarray, List[Instance]]:
    """Draw ``objects`` in order on a textured background.

    Args:
        rng (numpy.random.Generator): Source of all randomness.
        size (int): Side of the square image.
        objects (Sequence[tuple[int, Style]]): ``(label, style)`` pairs,
            painted in order so later ones occlude earlier ones.
        background (tuple[int]): Base RGB colour of the background.
        background_label (int): Label of the background pixels.
        overlap (bool): If False an object may not touch earlier ones; it is
            re-placed up to ``max_tries`` times and dropped if no free room
            is found, so instance masks match their polygons exactly.
        max_tries (int): Placements tried per object when ``overlap`` is
            False.

    Returns:
        tuple: ``image`` (H, W, 3) uint8 RGB, ``label`` (H, W) uint8 semantic
        map, and the :class:`Instance` list of objects with visible pixels.
    """
    image = np.empty((size, size, 3), np.uint8)
    paint(rng, image, np.ones((size, size), bool), background)
    label = np.full((size, size), background_label, np.uint8)
    occupied = np.zeros((size, size), np.uint8)
    # A 2-pixel gap keeps neighbours from merging into one blob.
    gap = np.ones((5, 5), np.uint8)
    instances = []
    for cls, style in objects:
        for _ in range(max_tries):
            polygon = random_polygon(rng, style, size)
            mask = polygon_mask(polygon, size)
            if overlap or not cv2.dilate(occupied, gap)[mask].any():
                break
        else:
            continue
        paint(rng, image, mask, style.colour)
        label[mask] = cls
        for instance in instances:
            instance.mask &= ~mask
        instances.append(Instance(cls, polygon, mask))
        occupied[mask] = 1
    instances = [i for i in instances if i.mask.any()]
    return image, label, instances


# Shared by tools/dataset_converters/make_synthetic_*.py around drawing.


def non_negative_int(text: str) -> int:
    """``int(text)``, refusing negative values (an argparse ``type``: a random
    seed must be >= 0)."""
    value = int(text)
    if value < 0:
        raise ValueError(f'expected >= 0, got {value}')
    return value


def prepare_output_dir(out: Union[str, Path], overwrite: bool) -> Path:
    """Create the folder ``out``, refusing to mix a new dataset into an
    existing one unless ``overwrite`` (files with the same names are then
    replaced, other files are left as they are)."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise FileExistsError(
            f'output path {out} exists and is not a directory')
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise FileExistsError(f'output directory {out} is not empty; '
                              'pass --overwrite to write into it anyway')
    out.mkdir(parents=True, exist_ok=True)
    return out


class GeneratorParser(argparse.ArgumentParser):
    """The command line of the dataset generators: ``OUT``, ``--seed`` and
    ``--overwrite``, to which each generator adds its image size and counts.

    Args:
        description (str): What the generator writes.
    """

    def __init__(self, description: str) -> None:
        super().__init__(description=description)
        self.add_argument('out', help='output folder, created if missing')
        self.add_argument(
            '--seed',
            type=non_negative_int,
            default=0,
            help='random seed; the same seed writes byte-identical files')
        self.add_argument(
            '--overwrite',
            action='store_true',
            help='write into a non-empty OUT; files with the same names are '
            'replaced, other files are left as they are')

    def output_dir(self, args: argparse.Namespace) -> Path:
        """``OUT`` created by :func:`prepare_output_dir`; a refusal exits as a
        usage error."""
        try:
            return prepare_output_dir(args.out, args.overwrite)
        except FileExistsError as error:
            self.error(str(error))


def image_rng(seed: int, split: str, *index: int) -> np.random.Generator:
    """A generator for one image, keyed by seed, split and index.

    Keying each image on its own makes its content independent of how many
    others are drawn: ``--num-train`` does not change the val images.
    """
    return np.random.default_rng([seed, zlib.crc32(split.encode()), *index])


def write_image(path: Path, image: np.ndarray) -> None:
    """Atomically write an RGB or single-channel image; the format follows the
    suffix (``.jpg``, ``.JPEG``, ``.png``)."""
    if image.ndim == 3:
        image = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    ok, encoded = cv2.imencode(path.suffix.lower(), image)
    if not ok:
        raise ValueError(f'cv2 could not encode {path}')
    atomic_write_bytes(encoded.tobytes(), path)


def write_text(path: Path, text: str) -> None:
    """Atomically write UTF-8 text."""
    atomic_write_bytes(text.encode('utf-8'), path)


def write_json(path: Path, obj) -> None:
    """Atomically write ``obj`` as JSON; key order is kept, so the bytes are
    reproducible."""
    write_text(path, json.dumps(obj))
