"""Write a small synthetic ADE20K in the layout of ADEChallengeData2016.

    OUT/images/{training,validation}/ADE_{train,val}_%08d.jpg
    OUT/annotations/{training,validation}/ADE_{train,val}_%08d.png

Annotations are 8-bit single-channel PNGs where 0 means "other" and k the
k-th ADE20K class, so mmseg's ``ADE20KDataset`` (``reduce_zero_label=True``)
reads them unchanged. Scenes use ADE20K's first five classes: wall fills the
background, sky is a band at the top, floor a band at the bottom, buildings
are rectangles and trees disks. A thin frame is left as "other" so that the
ignore index shows up, as unlabelled pixels do in the real data.
"""

import numpy as np

from mmzoo.utils.synthetic import (GeneratorParser, Style, draw_scene,
                                   image_rng, paint, write_image)

# PNG values are ADE20K's class ids: 1 wall, 2 building, 3 sky, 4 floor,
# 5 tree.
WALL = 1
WALL_COLOUR = (190, 180, 150)
BUILDING = (2, Style((170, 55, 45), 'rectangle', (0.2, 0.45)))
SKY = (3, Style((90, 150, 230), 'top_band', (0.15, 0.3)))
FLOOR = (4, Style((90, 90, 100), 'bottom_band', (0.15, 0.3)))
TREE = (5, Style((40, 140, 50), 'disk', (0.12, 0.3)))
FRAME_COLOUR = (20, 20, 20)
FRAME_WIDTH = 2

SPLITS = (('training', 'train'), ('validation', 'val'))


def make_sample(rng: np.random.Generator, size: int):
    """One (image, annotation) pair."""
    objects = ([SKY, FLOOR] + [BUILDING] * int(rng.integers(1, 4)) +
               [TREE] * int(rng.integers(1, 4)))
    image, label, _ = draw_scene(
        rng, size, objects, background=WALL_COLOUR, background_label=WALL)
    frame = np.ones((size, size), bool)
    frame[FRAME_WIDTH:-FRAME_WIDTH, FRAME_WIDTH:-FRAME_WIDTH] = False
    paint(rng, image, frame, FRAME_COLOUR)
    label[frame] = 0
    return image, label


def main(argv=None):
    parser = GeneratorParser(__doc__.splitlines()[0])
    parser.add_argument(
        '--size',
        type=int,
        default=128,
        help='side of the square images in pixels')
    parser.add_argument(
        '--num-train', type=int, default=40, help='number of training images')
    parser.add_argument(
        '--num-val', type=int, default=10, help='number of validation images')
    args = parser.parse_args(argv)
    out = parser.output_dir(args)

    counts = dict(training=args.num_train, validation=args.num_val)
    for folder, prefix in SPLITS:
        for index in range(1, counts[folder] + 1):
            image, label = make_sample(
                image_rng(args.seed, folder, index), args.size)
            name = f'ADE_{prefix}_{index:08d}'
            write_image(out / 'images' / folder / f'{name}.jpg', image)
            write_image(out / 'annotations' / folder / f'{name}.png', label)
    print(f'Wrote {args.num_train} training and {args.num_val} validation '
          f'{args.size}x{args.size} ADE20K-style pairs to {out}')


if __name__ == '__main__':
    main()
