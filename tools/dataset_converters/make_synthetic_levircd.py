"""Write a small synthetic LEVIR-CD: buildings appear and vanish between dates.

    OUT/{train,val,test}/{A,B,label}/{split}_N.png

The layout, names and label coding (8-bit PNG, 0 unchanged, 255 changed) are
LEVIR-CD's, so ``mmzoo.LEVIRCDDataset`` reads the output as it reads the
real data. Each pair is one scene seen at two dates, about 0.5 m per pixel:
grass and bare soil, roads, trees and buildings (rotated rectangles and
L-shapes with gabled, textured roofs and cast shadows). Between the dates

- what the label marks as change: new buildings appear (often on a bare
  construction plot) and a few old ones are demolished; the label is the
  footprint of every building present at one date only;
- what it must not mark: the whole image's brightness, a smooth local
  illumination field and haze, a colour cast per date, sensor noise,
  vegetation turning greener or browner, the sun's direction and shadow
  length, and a sub-pixel to 2-pixel misregistration of date A.

Pixel differencing flags most of the second list, so a model has to compare
the dates' content rather than their values. Labels are drawn in date B's
frame. Every image is drawn from a generator keyed by seed, split and index:
the same seed writes byte-identical files.
"""
from dataclasses import dataclass
from typing import List, Tuple

import cv2
import numpy as np

from mmzoo.utils.synthetic import (GeneratorParser, image_rng, polygon_mask,
                                   write_image)

SPLITS = ('train', 'val', 'test')
# Reflectances in [0, 1] (RGB).
GRASS = (0.30, 0.40, 0.19)
SOIL = (0.52, 0.45, 0.35)
ASPHALT = (0.36, 0.36, 0.38)
TREE = (0.13, 0.25, 0.10)
PLOT = (0.62, 0.55, 0.44)  # a cleared construction plot
ROOFS = ((0.74, 0.74, 0.76), (0.40, 0.40, 0.44), (0.60, 0.30, 0.23),
         (0.30, 0.42, 0.62), (0.88, 0.87, 0.84), (0.76, 0.66, 0.50))
# Lengths are in pixels of a 256 x 256 image (0.5 m per pixel) and scale
# with --size, so a smaller image shows the same kind of scene at a coarser
# resolution; only the misregistration stays 1-2 pixels at every size.
# Building sides: 7 to 21 m.
SIDE_RANGE = (14, 42)
# Buildings per image.
UNCHANGED_RANGE = (4, 9)
NEW_RANGE = (1, 5)
DEMOLISHED_RANGE = (0, 2)
NO_CHANGE_PROB = 0.1


@dataclass
class Building:
    mask: np.ndarray  # footprint in date B's frame
    roof: np.ndarray  # textured roof colour, H x W x 3 (used under mask)
    in_a: bool
    in_b: bool

    def present(self, date: str) -> bool:
        return self.in_a if date == 'A' else self.in_b


def smooth_field(rng: np.random.Generator, size: int,
                 cell: float) -> np.ndarray:
    """Zero-mean unit-variance noise varying over about ``cell`` pixels."""
    grid = rng.normal(size=(max(2, round(size / cell)) + 1, ) * 2)
    field = cv2.resize(grid, (size, size), interpolation=cv2.INTER_CUBIC)
    return (field - field.mean()) / (field.std() + 1e-8)


def rectangle(cx, cy, width, height, angle) -> np.ndarray:
    """Corners (x, y) of a ``width`` x ``height`` rectangle turned by ``angle``
    radians about its centre."""
    xs = np.array([-1, 1, 1, -1]) * width / 2
    ys = np.array([-1, -1, 1, 1]) * height / 2
    cos, sin = np.cos(angle), np.sin(angle)
    return np.stack([cx + xs * cos - ys * sin, cy + xs * sin + ys * cos], 1)


def footprint(rng: np.random.Generator, size: int,
              orientation: float) -> Tuple[np.ndarray, float]:
    """The mask of a rectangle or an L-shape aligned, roughly, with the street
    grid, and its angle."""
    width, height = rng.uniform(*SIDE_RANGE, size=2) * size / 256
    angle = orientation + rng.normal(0, np.radians(4))
    margin = max(width, height)
    cx, cy = rng.uniform(margin / 2 + 2, size - margin / 2 - 2, size=2)
    mask = polygon_mask(rectangle(cx, cy, width, height, angle), size)
    if rng.random() < 0.3:
        # A wing off one corner makes an L.
        wing_w, wing_h = width * rng.uniform(0.35, 0.6), height * 0.9
        sx, sy = rng.choice([-1, 1], size=2)
        dx, dy = sx * (width - wing_w) / 2, sy * (height + wing_h) / 2
        wx = cx + dx * np.cos(angle) - dy * np.sin(angle)
        wy = cy + dx * np.sin(angle) + dy * np.cos(angle)
        mask |= polygon_mask(rectangle(wx, wy, wing_w, wing_h, angle), size)
    return mask, angle


def roof_texture(rng: np.random.Generator, mask: np.ndarray,
                 angle: float) -> np.ndarray:
    """A roof colour with a gable (one half lit, one in shade) and fine
    texture, as a full-size image to be read under ``mask``."""
    size = mask.shape[0]
    colour = np.asarray(ROOFS[rng.integers(len(ROOFS))])
    colour = colour * rng.uniform(0.9, 1.1) + rng.normal(0, 0.02, 3)
    ys, xs = np.nonzero(mask)
    cy, cx = ys.mean(), xs.mean()
    yy, xx = np.mgrid[:size, :size]
    # The ridge runs along the building's axis.
    across = -(xx - cx) * np.sin(angle) + (yy - cy) * np.cos(angle)
    shade = np.where(across > 0, 1.0, rng.uniform(0.75, 0.9))
    grain = 1 + 0.04 * rng.normal(size=(size, size))
    return colour * (shade * grain)[..., None]


def place_buildings(rng: np.random.Generator, size: int,
                    blocked: np.ndarray) -> List[Building]:
    """Buildings that do not touch each other or ``blocked`` pixels."""
    counts = [
        int(rng.integers(lo, hi + 1))
        for lo, hi in (UNCHANGED_RANGE, NEW_RANGE, DEMOLISHED_RANGE)
    ]
    if rng.random() < NO_CHANGE_PROB:
        counts[1] = counts[2] = 0
    presence = ([(True, True)] * counts[0] + [(False, True)] * counts[1] +
                [(True, False)] * counts[2])
    orientation = rng.uniform(0, np.pi / 2)
    occupied = blocked.astype(np.uint8)
    side = 2 * max(1, round(3 * size / 256)) + 1
    gap = np.ones((side, side), np.uint8)
    buildings = []
    for in_a, in_b in presence:
        for _ in range(30):
            mask, angle = footprint(rng, size, orientation)
            if mask.any() and not cv2.dilate(occupied, gap)[mask].any():
                break
        else:
            continue
        occupied[mask] = 1
        buildings.append(
            Building(mask, roof_texture(rng, mask, angle), in_a, in_b))
    return buildings


def road_mask(rng: np.random.Generator, size: int) -> np.ndarray:
    """Zero to two straight roads crossing the scene."""
    mask = np.zeros((size, size), np.uint8)
    for _ in range(rng.integers(0, 3)):
        width = rng.uniform(7, 13) * size / 256
        angle = rng.uniform(0, np.pi)
        cx, cy = rng.uniform(0.2, 0.8, size=2) * size
        half = 2 * size
        mask |= polygon_mask(rectangle(cx, cy, half, width, angle),
                             size).astype(np.uint8)
    return mask.astype(bool)


def ground(rng: np.random.Generator, size: int, roads: np.ndarray,
           buildings_mask: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Land cover reflectance shared by both dates, and the vegetation mask
    (whose colour changes with the season)."""
    scale = size / 256
    soil_share = smooth_field(rng, size, 48 * scale) + rng.normal(0, 0.6)
    grass = 1 / (1 + np.exp(-3 * soil_share))
    base = (
        grass[..., None] * np.asarray(GRASS) +
        (1 - grass[..., None]) * np.asarray(SOIL))
    texture = (1 + 0.08 * smooth_field(rng, size, 3 * scale) +
               0.04 * rng.normal(size=(size, size)))
    image = base * texture[..., None]
    image[roads] = np.asarray(ASPHALT) * (
        1 + 0.03 * rng.normal(size=(int(roads.sum()), 1)))
    trees = np.zeros((size, size), np.uint8)
    for _ in range(rng.integers(3, 12)):
        x, y = rng.integers(0, size, size=2)
        for _ in range(rng.integers(1, 6)):
            cx, cy = np.array([x, y]) + rng.normal(0, 6 * scale, 2)
            radius = max(1, round(rng.uniform(3, 8) * scale))
            cv2.circle(trees, (int(cx), int(cy)), radius, 1, -1)
    trees = trees.astype(bool) & ~buildings_mask & ~roads
    image[trees] = np.asarray(TREE) * (
        1 + 0.15 * rng.normal(size=(int(trees.sum()), 1)))
    vegetation = trees | ((grass > 0.5) & ~roads)
    return image, vegetation


def shift(image: np.ndarray,
          dx: float,
          dy: float,
          interpolation=cv2.INTER_LINEAR) -> np.ndarray:
    matrix = np.float32([[1, 0, dx], [0, 1, dy]])
    return cv2.warpAffine(
        image,
        matrix,
        image.shape[1::-1],
        flags=interpolation,
        borderMode=cv2.BORDER_REFLECT101)


def render_date(rng: np.random.Generator, land: np.ndarray,
                vegetation: np.ndarray, buildings: List[Building],
                date: str) -> np.ndarray:
    """One acquisition: the scene's reflectance at ``date`` seen under its own
    sun, season, atmosphere and sensor, as uint8 RGB."""
    size = land.shape[0]
    image = land.copy()
    # Season: vegetation greener or browner.
    image[vegetation] *= np.array([1, rng.uniform(0.85, 1.15), 1
                                   ]) * rng.uniform(0.9, 1.1)
    present = np.zeros((size, size), bool)
    for building in buildings:
        if date == 'A' and not building.in_a:
            # A cleared plot before construction, or untouched ground. The
            # plot is the footprint itself: a wider one would be a change
            # that the label (footprints only) calls unchanged.
            if rng.random() < 0.5:
                plot = building.mask
                image[plot] = np.asarray(PLOT) * (
                    1 + 0.06 * rng.normal(size=(int(plot.sum()), 1)))
        if building.present(date):
            present |= building.mask
    # Shadows fall away from the sun, whose direction and height differ
    # between acquisitions.
    direction = np.radians(135) + rng.normal(0, np.radians(20))
    length = rng.uniform(3, 7) * size / 256
    shadow = shift(
        present.astype(np.uint8), length * np.cos(direction),
        length * np.sin(direction), cv2.INTER_NEAREST)
    shadow = shadow.astype(bool) & ~present
    image[shadow] *= rng.uniform(0.4, 0.6)
    for building in buildings:
        if building.present(date):
            image[building.mask] = building.roof[building.mask]

    # Illumination: global gain, smooth local gain and additive haze.
    gain = rng.uniform(0.75, 1.25) * (
        1 + 0.15 * np.clip(smooth_field(rng, size, 96 * size / 256), -2, 2))
    haze = rng.uniform(0, 0.08) * np.clip(
        1 + 0.5 * smooth_field(rng, size, size / 2), 0, None)
    image = image * gain[..., None] + haze[..., None]
    # Colour cast of the sensor and atmosphere.
    image = image * rng.uniform(0.9, 1.1, 3) + rng.normal(0, 0.02, 3)
    image = image + rng.normal(0, rng.uniform(0.012, 0.03), image.shape)
    if date == 'A':
        # Misregistration: date A is off by 1-2 pixels in some direction.
        offset = rng.uniform(1, 2)
        angle = rng.uniform(0, 2 * np.pi)
        image = shift(
            image.astype(np.float32), offset * np.cos(angle),
            offset * np.sin(angle))
    return np.clip(np.round(image * 255), 0, 255).astype(np.uint8)


def make_pair(rng: np.random.Generator, size: int):
    """(date A, date B, label) for one scene; label 255 where changed."""
    roads = road_mask(rng, size)
    buildings = place_buildings(rng, size, roads)
    footprints = np.zeros((size, size), bool)
    changed = np.zeros((size, size), bool)
    for building in buildings:
        footprints |= building.mask
        if building.in_a != building.in_b:
            changed |= building.mask
    land, vegetation = ground(rng, size, roads, footprints)
    image_a = render_date(rng, land, vegetation, buildings, 'A')
    image_b = render_date(rng, land, vegetation, buildings, 'B')
    return image_a, image_b, changed.astype(np.uint8) * 255


def main(argv=None):
    parser = GeneratorParser(__doc__.splitlines()[0])
    parser.add_argument(
        '--size',
        type=int,
        default=256,
        help='side of the square images in pixels')
    for split, default in zip(SPLITS, (48, 8, 16)):
        parser.add_argument(
            f'--num-{split}',
            type=int,
            default=default,
            help=f'number of {split} pairs')
    args = parser.parse_args(argv)
    if args.size < 32:
        parser.error(f'--size must be at least 32, got {args.size}')
    out = parser.output_dir(args)

    for split in SPLITS:
        for index in range(1, getattr(args, f'num_{split}') + 1):
            image_a, image_b, label = make_pair(
                image_rng(args.seed, split, index), args.size)
            name = f'{split}_{index}.png'
            write_image(out / split / 'A' / name, image_a)
            write_image(out / split / 'B' / name, image_b)
            write_image(out / split / 'label' / name, label)
    print(f'Wrote {args.num_train}/{args.num_val}/{args.num_test} '
          f'train/val/test {args.size}x{args.size} LEVIR-CD-style pairs '
          f'to {out}')


if __name__ == '__main__':
    main()
