"""Write a small synthetic COCO 2017 instance dataset in the real layout.

    OUT/{train2017,val2017}/%012d.jpg
    OUT/annotations/instances_{train2017,val2017}.json

The json files hold ``info``, ``licenses``, ``images``, ``annotations``
(xywh boxes, polygon segmentations, ``iscrowd`` 0) and ``categories`` with
COCO's own ids and names for its first three classes, so pycocotools and
mmdet's ``CocoDataset(metainfo=dict(classes=('person', 'bicycle', 'car')))``
read them as they read the real files. Each image holds one to four
non-touching objects: red triangles are persons, green disks bicycles and
blue rectangles cars.
"""

import numpy as np

from mmzoo.utils.synthetic import (GeneratorParser, Style, draw_scene,
                                   image_rng, write_image, write_json)

CATEGORIES = (
    dict(supercategory='person', id=1, name='person'),
    dict(supercategory='vehicle', id=2, name='bicycle'),
    dict(supercategory='vehicle', id=3, name='car'),
)
STYLES = {
    1: Style((210, 50, 50), 'triangle', (0.15, 0.35)),
    2: Style((50, 180, 70), 'disk', (0.15, 0.35)),
    3: Style((50, 80, 210), 'rectangle', (0.15, 0.35)),
}
BACKGROUND = (125, 125, 120)


def make_sample(rng: np.random.Generator, size: int):
    """An image and its instances; instance labels are COCO category ids."""
    category_ids = rng.choice(list(STYLES), size=int(rng.integers(1, 5)))
    objects = [(int(c), STYLES[int(c)]) for c in category_ids]
    image, _, instances = draw_scene(
        rng, size, objects, background=BACKGROUND, overlap=False)
    return image, instances


def annotation(ann_id: int, image_id: int, instance) -> dict:
    x1, y1, x2, y2 = instance.bbox
    polygon = np.round(instance.polygon, 2)
    return dict(
        id=ann_id,
        image_id=image_id,
        category_id=instance.label,
        segmentation=[polygon.ravel().tolist()],
        area=float(instance.mask.sum()),
        bbox=[x1, y1, x2 - x1, y2 - y1],
        iscrowd=0)


def main(argv=None):
    parser = GeneratorParser(__doc__.splitlines()[0])
    parser.add_argument(
        '--size',
        type=int,
        default=128,
        help='side of the square images in pixels')
    parser.add_argument(
        '--num-train', type=int, default=16, help='number of training images')
    parser.add_argument(
        '--num-val', type=int, default=4, help='number of validation images')
    args = parser.parse_args(argv)
    out = parser.output_dir(args)

    # Ids are unique across both splits, as in the real release.
    image_id = ann_id = 0
    num_anns = 0
    for split, count in (('train2017', args.num_train), ('val2017',
                                                         args.num_val)):
        images, annotations = [], []
        for index in range(count):
            image_id += 1
            image, instances = make_sample(
                image_rng(args.seed, split, index), args.size)
            file_name = f'{image_id:012d}.jpg'
            write_image(out / split / file_name, image)
            images.append(
                dict(
                    id=image_id,
                    file_name=file_name,
                    height=args.size,
                    width=args.size))
            for instance in instances:
                ann_id += 1
                annotations.append(annotation(ann_id, image_id, instance))
        num_anns += len(annotations)
        write_json(
            out / 'annotations' / f'instances_{split}.json',
            dict(
                info=dict(
                    description='mmzoo synthetic COCO',
                    version='1.0',
                    year=2017),
                licenses=[],
                images=images,
                annotations=annotations,
                categories=list(CATEGORIES)))
    print(f'Wrote {args.num_train} train and {args.num_val} val '
          f'{args.size}x{args.size} images with {num_anns} instances in '
          f'COCO 2017 layout to {out}')


if __name__ == '__main__':
    main()
