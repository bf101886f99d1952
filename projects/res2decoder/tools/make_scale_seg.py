"""Write a generated segmentation set where object scale decides the class.

    OUT/images/{training,validation}/scaleseg_{train,val}_%08d.jpg
    OUT/annotations/{training,validation}/scaleseg_{train,val}_%08d.png

The layout is ADE20K's (ADEChallengeData2016); annotations are 8-bit PNGs
read with ``reduce_zero_label=True``: 1 ground, 2 building, 3 car, 4 lake,
5 shrub, 6 road (0, "other", is not drawn). Buildings and cars share one
colour family and one shape (rectangles), lakes and shrubs another (disks):
only an object's extent, from a fifth to two thirds of the image for the
large classes and a few pixels for the small ones, tells them apart. Roads
are lines one to three pixels wide across the scene. A decoder therefore
has to see both far (is this pixel inside a large object?) and fine (a
three-pixel car, a one-pixel road).
"""
import sys
from pathlib import Path

import cv2
import numpy as np

from mmzoo.utils.synthetic import (GeneratorParser, Style, draw_scene,
                                   image_rng, paint, prepare_output_dir,
                                   write_image)

CLASSES = ('ground', 'building', 'car', 'lake', 'shrub', 'road')
GROUND = 1
GROUND_COLOUR = (150, 140, 110)
BRICK = (170, 60, 50)
WATER = (60, 110, 200)
LARGE = (0.2, 0.65)
SMALL = (0.04, 0.1)
BUILDING = (2, Style(BRICK, 'rectangle', LARGE))
CAR = (3, Style(BRICK, 'rectangle', SMALL))
LAKE = (4, Style(WATER, 'disk', LARGE))
SHRUB = (5, Style(WATER, 'disk', SMALL))
ROAD = 6
ROAD_COLOUR = (235, 235, 225)
ROAD_WIDTH = (1, 3)

SPLITS = (('training', 'train'), ('validation', 'val'))


def draw_roads(rng: np.random.Generator, image: np.ndarray, label: np.ndarray,
               num: int) -> None:
    """Paint ``num`` straight roads from one image border to another."""
    size = label.shape[0]
    for _ in range(num):
        # Two points on different borders, so that the road crosses the
        # scene instead of ending in it.
        sides = rng.choice(4, size=2, replace=False)
        ends = []
        for side in sides:
            t = int(rng.integers(0, size))
            ends.append({
                0: (t, 0),
                1: (size - 1, t),
                2: (t, size - 1),
                3: (0, t)
            }[int(side)])
        mask = np.zeros(label.shape, np.uint8)
        width = int(rng.integers(ROAD_WIDTH[0], ROAD_WIDTH[1] + 1))
        cv2.line(mask, ends[0], ends[1], 1, thickness=width)
        mask = mask.astype(bool)
        paint(rng, image, mask, ROAD_COLOUR)
        label[mask] = ROAD


def make_sample(rng: np.random.Generator, size: int):
    """One (image, annotation) pair: large objects first, small ones on top of
    them, roads last."""
    objects = ([BUILDING] * int(rng.integers(1, 3)) +
               [LAKE] * int(rng.integers(1, 3)))
    order = rng.permutation(len(objects))
    small = [CAR] * int(rng.integers(3, 9)) + [SHRUB] * int(rng.integers(3, 9))
    image, label, _ = draw_scene(
        rng,
        size, [objects[i] for i in order] + small,
        background=GROUND_COLOUR,
        background_label=GROUND)
    draw_roads(rng, image, label, int(rng.integers(1, 4)))
    return image, label


def generate(out,
             size=64,
             num_train=96,
             num_val=32,
             seed=0,
             overwrite=False) -> Path:
    """Write the set into ``out`` and return its path."""
    out = prepare_output_dir(out, overwrite)
    counts = dict(training=num_train, validation=num_val)
    for folder, prefix in SPLITS:
        for index in range(1, counts[folder] + 1):
            image, label = make_sample(image_rng(seed, folder, index), size)
            name = f'scaleseg_{prefix}_{index:08d}'
            write_image(out / 'images' / folder / f'{name}.jpg', image)
            write_image(out / 'annotations' / folder / f'{name}.png', label)
    return out


def main(argv=None):
    parser = GeneratorParser(__doc__.splitlines()[0])
    parser.add_argument(
        '--size', type=int, default=64, help='side of the square images')
    parser.add_argument(
        '--num-train', type=int, default=96, help='training images')
    parser.add_argument(
        '--num-val', type=int, default=32, help='validation images')
    args = parser.parse_args(argv)
    if args.size < 16:
        parser.error(f'--size must be at least 16 pixels, got {args.size}')
    try:
        out = generate(args.out, args.size, args.num_train, args.num_val,
                       args.seed, args.overwrite)
    except FileExistsError as error:
        parser.error(str(error))
    print(
        f'Wrote {args.num_train} training and {args.num_val} validation '
        f'{args.size}x{args.size} pairs to {out}',
        file=sys.stdout)


if __name__ == '__main__':
    main()
