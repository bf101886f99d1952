"""Write a small synthetic ImageNet in the layout mmpretrain reads.

    OUT/train/<wnid>/<wnid>_<k>.JPEG
    OUT/val/ILSVRC2012_val_%08d.JPEG
    OUT/meta/train.txt    lines "<wnid>/<wnid>_<k>.JPEG <label>"
    OUT/meta/val.txt      lines "ILSVRC2012_val_%08d.JPEG <label>"

``mmpretrain.datasets.ImageNet(data_root=OUT, split='train')`` (or
``ann_file='meta/train.txt', data_prefix='train'``) loads it. Class k uses
the k-th ImageNet-1k wnid, so labels agree with the real class indices, and
shows one to three objects of its own colour and shape on a grey background.
"""

import numpy as np

from mmzoo.utils.synthetic import (GeneratorParser, Style, draw_scene,
                                   image_rng, write_image, write_text)

# The first ten ImageNet-1k classes in label order: tench, goldfish, great
# white shark, tiger shark, hammerhead, electric ray, stingray, cock, hen,
# ostrich.
WNIDS = ('n01440764', 'n01443537', 'n01484850', 'n01491361', 'n01494475',
         'n01496331', 'n01498041', 'n01514668', 'n01514859', 'n01518878')
# Distinct colour per class; shapes repeat after six, colour still separates.
STYLES = tuple(
    Style(colour, shape, scale=(0.3, 0.6)) for colour, shape in (
        ((210, 45, 45), 'rectangle'),
        ((45, 175, 65), 'disk'),
        ((50, 80, 215), 'triangle'),
        ((225, 205, 40), 'diamond'),
        ((190, 50, 190), 'cross'),
        ((40, 195, 205), 'star'),
        ((235, 125, 25), 'rectangle'),
        ((110, 50, 165), 'disk'),
        ((125, 80, 35), 'triangle'),
        ((240, 240, 240), 'diamond'),
    ))
BACKGROUND = (120, 120, 120)


def make_image(rng: np.random.Generator, size: int, label: int) -> np.ndarray:
    objects = [(label, STYLES[label])] * int(rng.integers(1, 4))
    image, _, _ = draw_scene(rng, size, objects, background=BACKGROUND)
    return image


def main(argv=None):
    parser = GeneratorParser(__doc__.splitlines()[0])
    parser.add_argument(
        '--size',
        type=int,
        default=64,
        help='side of the square images in pixels')
    parser.add_argument(
        '--num-classes',
        type=int,
        default=4,
        help=f'number of classes, at most {len(WNIDS)}')
    parser.add_argument(
        '--train-per-class',
        type=int,
        default=16,
        help='training images per class')
    parser.add_argument(
        '--val-per-class',
        type=int,
        default=4,
        help='validation images per class')
    args = parser.parse_args(argv)
    if not 1 <= args.num_classes <= len(WNIDS):
        parser.error(f'--num-classes must be in [1, {len(WNIDS)}]')
    out = parser.output_dir(args)

    train_lines = []
    for label, wnid in enumerate(WNIDS[:args.num_classes]):
        for k in range(1, args.train_per_class + 1):
            path = f'{wnid}/{wnid}_{k}.JPEG'
            image = make_image(
                image_rng(args.seed, 'train', label, k), args.size, label)
            write_image(out / 'train' / path, image)
            train_lines.append(f'{path} {label}\n')

    # The real val folder is flat with classes interleaved; shuffle likewise.
    val_labels = np.repeat(np.arange(args.num_classes), args.val_per_class)
    image_rng(args.seed, 'val-order').shuffle(val_labels)
    val_lines = []
    for index, label in enumerate(val_labels.tolist(), start=1):
        path = f'ILSVRC2012_val_{index:08d}.JPEG'
        image = make_image(
            image_rng(args.seed, 'val', index), args.size, label)
        write_image(out / 'val' / path, image)
        val_lines.append(f'{path} {label}\n')

    write_text(out / 'meta' / 'train.txt', ''.join(train_lines))
    write_text(out / 'meta' / 'val.txt', ''.join(val_lines))
    print(f'Wrote {len(train_lines)} train and {len(val_lines)} val '
          f'{args.size}x{args.size} images of {args.num_classes} classes in '
          f'ImageNet layout to {out}')


if __name__ == '__main__':
    main()
