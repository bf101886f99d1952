"""Segment the foveal avascular zone (FAZ) and diagnose the eye on every OCTA
image of a folder with a trained BSDA-Net.

    python tools/infer_octa.py CONFIG CHECKPOINT IMAGES_DIR OUT_DIR \\
        (--fov-mm MM | --pixel-spacing MM) [--device cpu]

Every PNG, BMP and TIFF file in IMAGES_DIR (not its sub-folders), grey or
RGB, of any size, goes through the config's test pipeline without its
annotation loading (read as the model was trained, e.g. one grey channel,
and resized if the pipeline resizes); the predictions are returned at the
image's own size. For each image NAME it writes, atomically:

    OUT_DIR/pictures/NAME.png  the image with the predicted FAZ outlined in
                               red | the boundary heatmap | the signed
                               distance map (blue inside, white on the
                               boundary, red outside), titled with the
                               predicted diagnosis, its probability and the
                               FAZ measures
    OUT_DIR/masks/NAME.png     the predicted FAZ: 255 FAZ, 0 background

and, after the last image, OUT_DIR/faz.csv with one row per image: file,
predicted_class, probability, faz_area_mm2, faz_perimeter_mm,
faz_circularity (4 pi area / perimeter^2; see
mmzoo.evaluation.functional.faz_biomarkers), pixel_spacing_mm and
spacing_from (the option it came from). The pixel size comes from
--fov-mm, the width of the scan's field of view (6 or 3 for OCTA-500's
scans: the pixel is FOV / image width, square), or from --pixel-spacing, mm
per pixel of the images as given.

An image that cannot be read is reported by name and skipped; the others
are still written, and the exit status is then 1. The checkpoint must fit
the config's model exactly.
"""
import os.path as osp
import sys
from pathlib import Path
from typing import List, Optional, Sequence

import cv2
import numpy as np
import torch
from mmengine.config import Config
from mmengine.dataset import Compose, pseudo_collate
from tqdm import tqdm

from mmzoo.apis import (InputError, csv_bytes, inference_parser, load_model,
                        png_bytes, unlabelled_test_pipeline)
from mmzoo.evaluation.functional import faz_biomarkers
from mmzoo.registry import DATASETS
from mmzoo.utils.fileio import atomic_write_bytes
from mmzoo.visualization import class_name, class_title, octa_panel

IMAGE_SUFFIXES = ('.png', '.bmp', '.tif', '.tiff')
# Steps of a test pipeline that need labels an unlabelled image lacks.
ANNOTATION_STEPS = ('LoadAnnotations', 'LoadFAZAnnotation',
                    'GenerateFAZTargets')
CSV_COLUMNS = ('file', 'predicted_class', 'probability', 'faz_area_mm2',
               'faz_perimeter_mm', 'faz_circularity', 'pixel_spacing_mm',
               'spacing_from')


class UnreadableImage(Exception):
    """An image file that cannot be decoded; it is skipped."""


def parse_args(argv=None):
    parser = inference_parser(__doc__)
    parser.add_argument('config', help='BSDA-Net config')
    parser.add_argument('checkpoint', help='checkpoint of that model')
    parser.add_argument('images_dir', help='folder of OCTA en-face images')
    parser.add_argument('out_dir', help='output folder')
    spacing = parser.add_mutually_exclusive_group(required=True)
    spacing.add_argument(
        '--fov-mm',
        type=float,
        help='width of the field of view in mm (6 or 3 for OCTA-500); '
        'pixel = FOV / image width')
    spacing.add_argument(
        '--pixel-spacing',
        type=float,
        help='mm per pixel of the images as given')
    args = parser.parse_args(argv)
    for name in ('fov_mm', 'pixel_spacing'):
        value = getattr(args, name)
        if value is not None and not 0 < value < float('inf'):
            parser.error(f'--{name.replace("_", "-")} must be positive, got '
                         f'{value}')
    return args


def list_images(folder: Path) -> List[Path]:
    if not folder.is_dir():
        raise InputError(f'{folder} is not a folder')
    images = [
        p for p in sorted(folder.iterdir())
        if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
    ]
    if not images:
        raise InputError(
            f'no images ({", ".join(IMAGE_SUFFIXES)}) in {folder}')
    stems = [p.stem for p in images]
    clashes = sorted({s for s in stems if stems.count(s) > 1})
    if clashes:
        raise InputError(f'{folder} holds several images named {clashes[0]} '
                         'with different suffixes; their outputs would clash')
    return images


def read_image(path: Path) -> np.ndarray:
    """The image as RGB uint8 (grey repeated), for the picture; raises
    UnreadableImage naming the file."""
    try:
        data = np.frombuffer(path.read_bytes(), np.uint8)
        image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    except (OSError, cv2.error) as error:
        raise UnreadableImage(f'{path}: {str(error).strip()}') from None
    if image is None:
        raise UnreadableImage(f'{path}: not a readable image (empty, '
                              'truncated or not PNG, BMP or TIFF)')
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def pixel_spacing(args, width: int):
    """(mm per pixel, where it came from) for an image ``width`` wide."""
    if args.fov_mm is not None:
        return args.fov_mm / width, f'--fov-mm {args.fov_mm:g}'
    return args.pixel_spacing, f'--pixel-spacing {args.pixel_spacing:g}'


def class_names(cfg: Config) -> Optional[Sequence[str]]:
    """The diagnosis names of the config's test dataset: its metainfo, else its
    class's METAINFO."""
    dataset = cfg.test_dataloader.dataset
    names = (dataset.get('metainfo') or {}).get('diagnosis_classes')
    if names is None:
        try:
            names = DATASETS.get(
                dataset['type']).METAINFO.get('diagnosis_classes')
        except (KeyError, AttributeError):
            names = None
    return names


@torch.no_grad()
def infer(model, pipeline: Compose, path: Path, spacing: float):
    """The model's SegDataSample for one image, at the image's size."""
    data = pipeline(
        dict(
            img_path=str(path),
            seg_fields=[],
            reduce_zero_label=False,
            pixel_spacing=spacing))
    return model.test_step(pseudo_collate([data]))[0]


def describe(path: Path, image: np.ndarray, sample, names, spacing: float,
             source: str, out: Path) -> dict:
    """Write the picture and mask of one image; its CSV row."""
    mask = sample.pred_sem_seg.data[0].cpu().numpy().astype(np.uint8)
    if mask.shape != image.shape[:2]:
        raise RuntimeError(
            f'{path}: the model returned a {mask.shape} mask for a '
            f'{image.shape[:2]} image; it must restore the original size')
    scores = sample.pred_class_score.float().cpu().numpy()
    if names is not None and len(names) != len(scores):
        raise RuntimeError(
            f'the model scores {len(scores)} classes but the config names '
            f'{len(names)} diagnoses ({", ".join(names)})')
    pred_class = int(sample.pred_class)
    probability = float(scores[pred_class])
    area, perimeter, circularity = faz_biomarkers(mask, spacing)
    title = (f'{class_title(names, pred_class, probability)} | FAZ '
             f'{area:.3f} mm2, perimeter {perimeter:.2f} mm, circularity '
             f'{circularity:.2f}')
    picture = octa_panel(
        image,
        mask,
        sample.pred_heatmap.data[0].cpu().numpy(),
        sample.pred_sdm.data[0].cpu().numpy(),
        title=title)
    atomic_write_bytes(
        png_bytes(picture), out / 'pictures' / f'{path.stem}.png')
    atomic_write_bytes(
        png_bytes(mask * 255), out / 'masks' / f'{path.stem}.png')
    return dict(
        file=path.name,
        predicted_class=class_name(names, pred_class),
        probability=f'{probability:.4f}',
        faz_area_mm2=f'{area:.6f}',
        faz_perimeter_mm=f'{perimeter:.6f}',
        faz_circularity=f'{circularity:.4f}',
        pixel_spacing_mm=f'{spacing:.6g}',
        spacing_from=source)


def main(argv=None):
    args = parse_args(argv)
    try:
        images = list_images(Path(args.images_dir))
    except InputError as error:
        raise SystemExit(f'error: {error}')
    try:
        cfg, model = load_model(args.config, args.checkpoint, args.device,
                                args.cfg_options)
    except InputError as error:
        raise SystemExit(f'error: {error}')
    pipeline = unlabelled_test_pipeline(cfg, ANNOTATION_STEPS)
    names = class_names(cfg)
    out = Path(args.out_dir)
    rows, skipped = [], []
    for path in tqdm(images, unit='image', file=sys.stderr):
        try:
            image = read_image(path)
        except UnreadableImage as error:
            skipped.append(path.name)
            tqdm.write(f'skipped {error}', file=sys.stderr)
            continue
        spacing, source = pixel_spacing(args, image.shape[1])
        sample = infer(model, pipeline, path, spacing)
        rows.append(describe(path, image, sample, names, spacing, source, out))
    atomic_write_bytes(csv_bytes(rows, CSV_COLUMNS), out / 'faz.csv')
    print(f'Wrote pictures and masks of {len(rows)} image(s) and faz.csv to '
          f'{osp.abspath(out)}')
    if skipped:
        print(f'Skipped {len(skipped)} unreadable image(s): '
              f'{", ".join(skipped)}')
        sys.exit(1)


if __name__ == '__main__':
    main()
