"""Detect changes between two images, or two folders of image pairs, with a
trained change-detection model.

    python tools/infer_cd.py A.png B.png --config CONFIG --checkpoint CKPT \\
        --out DIR [--gsd METRES]
    python tools/infer_cd.py DIR_A DIR_B --config CONFIG --checkpoint CKPT \\
        --out DIR [--whole | --window 256 [--overlap 128]] [--save-npy]

A model learns on crops of a fixed size (the crop_size of its config's
training pipeline: 256x256 for the LEVIR-CD configs). An image larger than
that crop is inferred with a sliding window of the crop's size, half a window
apart, the scores averaged where windows overlap (mmseg's test_cfg
mode='slide'): fed at once, a larger image makes STANet's attention regions
larger than any it learned on, and finds changes far less well (see
configs/stanet/README.md). An image no larger than the crop is inferred at
once, as is every image with --whole, or when the config trains on no fixed
crop; --window and --overlap choose another window. The output says once
which way it infers and why.

Folders are paired by file name. A file without a partner, and a pair that
cannot be read (not an image, truncated, dates of different sizes), is
reported by name and skipped; the other pairs are still written, and the
exit status is then 1. For each pair NAME (the file stem) it writes,
atomically:

    DIR/change/NAME.png     the change map: 255 changed, 0 unchanged
    DIR/distance/NAME.png   the distance map as grey, 0 black and --vmax or
                            more white (with the default 2, STANet's
                            threshold 1 is mid-grey)
    DIR/distance/NAME.npy   the raw distances, float32 (with --save-npy)
    DIR/overlay/NAME.png    the changes in translucent red with outlines,
                            drawn over the date-B image

and, after the last pair, DIR/changes.csv with a row per pair: name, height,
width, changed_pixels, changed_fraction, changed_area_m2 (changed pixels times
the area of a pixel), gsd_m (metres per pixel, "X x Y" where the pixels are
not square) and gsd_from. The ground sampling distance is --gsd, else the
ModelPixelScale tag of a GeoTIFF (date A's; date B's where A has none; A's,
with a warning, where they differ), in metres, or in feet converted to metres
where its GeoKeys say so; a GeoTIFF in degrees (geographic coordinates) needs
--gsd. Where the GSD is unknown its cells and the area are empty.

The images go through the config's test pipeline without its label loading.
Grey, grey-alpha, RGBA and palette images are converted to RGB (grey
repeated, alpha dropped), as the model takes RGB pairs; the output says so
once. Of the config's model.test_cfg, the mode, crop_size and stride are set
as above and the rest (e.g. windows_per_forward) is kept. The checkpoint must
fit the config's model exactly.
"""
import io
import math
import os.path as osp
import sys
from collections import Counter
from pathlib import Path
from typing import List, Optional, Tuple

import mmcv
import numpy as np
import torch
from mmengine.config import Config
from mmengine.dataset import Compose, pseudo_collate
from PIL import Image
from tqdm import tqdm

from mmzoo.apis import (InputError, csv_bytes, inference_parser, load_model,
                        png_bytes, unlabelled_test_pipeline)
from mmzoo.utils.fileio import atomic_write_bytes
from mmzoo.visualization import distance_to_image, overlay_changes

IMAGE_SUFFIXES = ('.png', '.jpg', '.jpeg', '.tif', '.tiff', '.bmp')
LABEL_LOADERS = ('LoadChangeLabel', 'LoadAnnotations')
CSV_COLUMNS = ('name', 'height', 'width', 'changed_pixels', 'changed_fraction',
               'changed_area_m2', 'gsd_m', 'gsd_from')
# GeoTIFF (OGC 19-008r4): the ModelPixelScale tag holds the pixel's size in
# model units (x, y, z); the GeoKeyDirectory says what those units are.
MODEL_PIXEL_SCALE_TAG = 33550
GEO_KEY_DIRECTORY_TAG = 34735
GT_MODEL_TYPE_KEY = 1024
GEOGRAPHIC_MODEL = 2
PROJ_LINEAR_UNITS_KEY = 3076
# EPSG linear units: metre, international foot, US survey foot.
METRES_PER_UNIT = {9001: 1.0, 9002: 0.3048, 9003: 1200 / 3937}

Window = Optional[Tuple[int, int]]


def parse_args(argv=None):
    parser = inference_parser(__doc__)
    parser.add_argument('a', help='date-A image or folder of images')
    parser.add_argument('b', help='date-B image or folder of images')
    parser.add_argument('--config', required=True, help='model config')
    parser.add_argument('--checkpoint', required=True, help='checkpoint')
    parser.add_argument('--out', required=True, help='output folder')
    parser.add_argument(
        '--whole',
        action='store_true',
        help='infer every image at once, however large')
    parser.add_argument(
        '--window',
        type=int,
        help='side of the sliding window (default: the training crop)')
    parser.add_argument(
        '--overlap',
        type=int,
        help='overlap of neighbouring windows in pixels (default: half the '
        'window)')
    parser.add_argument(
        '--gsd',
        type=float,
        help='ground sampling distance, metres per pixel, for the changed '
        'area (default: from GeoTIFF tags, else none)')
    parser.add_argument(
        '--save-npy',
        action='store_true',
        help='also save the raw distance maps as .npy')
    parser.add_argument(
        '--vmax',
        type=float,
        default=2.0,
        help='distance drawn white in the distance picture (default: 2)')
    args = parser.parse_args(argv)
    if args.whole and (args.window is not None or args.overlap is not None):
        parser.error('--whole infers without windows; leave out --window '
                     'and --overlap')
    if args.window is not None and args.window < 1:
        parser.error(f'--window must be positive, got {args.window}')
    if args.overlap is not None and args.overlap < 0:
        parser.error(f'--overlap must not be negative, got {args.overlap}')
    if args.vmax <= 0:
        parser.error(f'--vmax must be positive, got {args.vmax}')
    if args.gsd is not None and not 0 < args.gsd < math.inf:
        parser.error(f'--gsd must be positive, got {args.gsd}')
    return args


def list_images(folder: Path) -> dict:
    return {
        p.name: p
        for p in sorted(folder.iterdir())
        if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
    }


def find_pairs(a: Path, b: Path) -> Tuple[List[Tuple[Path, Path]], List[Path]]:
    """The (A, B) paths to infer, one pair of files or two folders matched by
    name, and the images without a partner of the same name."""
    for path in (a, b):
        if not path.exists():
            raise InputError(f'{path} does not exist')
    if a.is_file() and b.is_file():
        return [(a, b)], []
    if not (a.is_dir() and b.is_dir()):
        raise InputError(f'give two images or two folders; {a} and {b} '
                         'are one of each')
    images_a, images_b = list_images(a), list_images(b)
    if not images_a and not images_b:
        raise InputError(
            f'no images ({", ".join(IMAGE_SUFFIXES)}) in {a} or {b}')
    unpaired = ([p for n, p in images_a.items() if n not in images_b] +
                [p for n, p in images_b.items() if n not in images_a])
    names = [name for name in images_a if name in images_b]
    stems = [Path(name).stem for name in names]
    clashes = sorted({s for s in stems if stems.count(s) > 1})
    if clashes:
        raise InputError(f'{a} holds several images named {clashes[0]} '
                         'with different suffixes; their outputs would clash')
    return [(images_a[name], images_b[name]) for name in names], unpaired


def training_crop(cfg: Config) -> Window:
    """The crop size (h, w) of the config's training pipeline (the first step
    with a ``crop_size``, e.g. RandomCrop), or None."""
    dataset = (cfg.get('train_dataloader') or {}).get('dataset') or {}
    # Dataset wrappers (RepeatDataset, ...) hold the dataset that has it.
    while 'pipeline' not in dataset and 'dataset' in dataset:
        dataset = dataset['dataset']
    for step in dataset.get('pipeline') or []:
        size = step.get('crop_size')
        if size is not None:
            h, w = (size, size) if isinstance(size, int) else size[:2]
            return int(h), int(w)
    return None


def size_text(h: int, w: int) -> str:
    return f'{w}x{h}'


class WindowPolicy:
    """Whether an image is inferred whole or with a sliding window, and the
    message that says why.

    Args:
        window (tuple, optional): Window size (h, w); None infers every
            image whole.
        stride (tuple, optional): Step (h, w) between windows.
        source (str): What the window is, for the messages, with {} for its
            size ('the training crop {}', 'the window {} (--window)').
        whole_reason (str, optional): Why every image is inferred whole,
            where ``window`` is None.
    """

    def __init__(self,
                 window: Window,
                 stride: Window = None,
                 source: str = '',
                 whole_reason: Optional[str] = None) -> None:
        self.window, self.stride = window, stride
        self.source, self.whole_reason = source, whole_reason

    @classmethod
    def from_args(cls, args, cfg: Config) -> 'WindowPolicy':
        if args.whole:
            return cls(None, whole_reason='inferring whole images (--whole)')
        if args.window is not None:
            window, source = (args.window, ) * 2, 'the window {} (--window)'
        else:
            window, source = training_crop(cfg), 'the training crop {}'
            if window is None:
                return cls(
                    None,
                    whole_reason=f'{args.config} trains on no fixed crop (no '
                    'crop_size in its training pipeline): inferring whole '
                    'images; --window N slides an NxN window')
        if args.overlap is None:
            stride = tuple(max(side // 2, 1) for side in window)
        elif args.overlap >= min(window):
            raise InputError(f'--overlap {args.overlap} leaves no step '
                             f'between windows of {size_text(*window)}')
        else:
            stride = tuple(side - args.overlap for side in window)
        return cls(window, stride, source)

    def test_cfg(self, h: int, w: int) -> dict:
        """The model's test_cfg mode for an (h, w) image."""
        if self.window is None or (h <= self.window[0]
                                   and w <= self.window[1]):
            return dict(mode='whole')
        return dict(mode='slide', crop_size=self.window, stride=self.stride)

    def stride_text(self) -> str:
        h, w = self.stride
        return str(h) if h == w else size_text(h, w)

    def message(self, h: int, w: int) -> str:
        if self.window is None:
            return self.whole_reason
        window = size_text(*self.window)
        source = self.source.format(window)
        if self.test_cfg(h, w)['mode'] == 'whole':
            return (f'{size_text(h, w)} is no larger than {source}: '
                    'inferring the whole image')
        return (f'{size_text(h, w)} is larger than {source}: sliding '
                f'{window} windows with stride {self.stride_text()}; --whole '
                'infers the image at once')

    def summary(self, modes: Counter) -> str:
        """How the pairs were inferred, given the count of each mode."""
        slide = (f'sliding {size_text(*self.window)} windows, stride '
                 f'{self.stride_text()}' if modes['slide'] else '')
        if not modes['whole']:
            return slide
        if not modes['slide']:
            return 'whole images'
        return f'{modes["slide"]} with {slide}; {modes["whole"]} whole'


def colour_mode(path: Path) -> Optional[str]:
    """PIL's name for the colours of an image file ('RGB', 'L', 'RGBA'), read
    from its header; None where PIL cannot read what OpenCV could."""
    try:
        with Image.open(path) as image:
            return image.mode
    except (OSError, ValueError):
        return None


def geo_keys(directory) -> dict:
    """The GeoKeyDirectory's keys whose value it holds itself: {key: value}."""
    if not directory or len(directory) < 4:
        return {}
    # A header of 4 shorts (the last the number of keys), then 4 per key:
    # id, the tag holding the value (0: the value is the 4th short), count,
    # value.
    entries = np.asarray(directory[4:4 + 4 * directory[3]]).reshape(-1, 4)
    return {int(k): int(v) for k, where, _, v in entries if where == 0}


def geotiff_gsd(path: Path):
    """((x, y) metres per pixel, None) from a GeoTIFF's ModelPixelScale tag;
    (None, why not) for a GeoTIFF whose scale is not in metres or feet; (None,
    None) for any other file."""
    try:
        with Image.open(path) as image:
            tags = getattr(image, 'tag_v2', None)
            scale = tags.get(MODEL_PIXEL_SCALE_TAG) if tags else None
            keys = geo_keys(tags.get(GEO_KEY_DIRECTORY_TAG)) if tags else {}
    except (OSError, ValueError):
        return None, None
    if not scale or len(scale) < 2:
        return None, None
    if keys.get(GT_MODEL_TYPE_KEY) == GEOGRAPHIC_MODEL:
        return None, (f'the GeoTIFF pixel scale of {path} is in degrees '
                      '(geographic coordinates)')
    unit = keys.get(PROJ_LINEAR_UNITS_KEY, 9001)
    if unit not in METRES_PER_UNIT:
        return None, (f'the GeoTIFF pixel scale of {path} is in EPSG unit '
                      f'{unit}, neither metres nor feet')
    gsd = tuple(abs(float(s)) * METRES_PER_UNIT[unit] for s in scale[:2])
    if not all(0 < s < math.inf for s in gsd):
        return None, f'the GeoTIFF pixel scale of {path} is {tuple(scale)}'
    return gsd, None


def gsd_text(gsd) -> str:
    x, y = gsd
    return f'{x:.10g}' if x == y else f'{x:.10g} x {y:.10g}'


def pair_gsd(path_a: Path, path_b: Path, override: Optional[float]):
    """The ground sampling distance of a pair: ((x, y) metres per pixel or
    None, where it came from, why a GeoTIFF scale was unusable (a list), and a
    warning where the two dates' scales differ (or None))."""
    if override is not None:
        return (override, override), '--gsd', [], None
    (gsd_a, note_a), (gsd_b, note_b) = geotiff_gsd(path_a), geotiff_gsd(path_b)
    unusable = [note for note in (note_a, note_b) if note]
    mismatch = None
    if gsd_a and gsd_b and not np.allclose(gsd_a, gsd_b, rtol=1e-6, atol=0):
        mismatch = (f'the GeoTIFF pixel scales of {path_a} '
                    f'({gsd_text(gsd_a)} m) and {path_b} ({gsd_text(gsd_b)} '
                    "m) differ; the area uses date A's")
    if gsd_a:
        return gsd_a, 'GeoTIFF A', unusable, mismatch
    if gsd_b:
        return gsd_b, 'GeoTIFF B', unusable, mismatch
    return None, '', unusable, mismatch


def write_outputs(out: Path, name: str, image_b: np.ndarray, change, distance,
                  vmax: float, save_npy: bool) -> None:
    atomic_write_bytes(png_bytes(change * 255), out / 'change' / f'{name}.png')
    atomic_write_bytes(
        png_bytes(distance_to_image(distance, vmax)),
        out / 'distance' / f'{name}.png')
    if save_npy:
        buffer = io.BytesIO()
        np.save(buffer, distance.astype(np.float32))
        atomic_write_bytes(buffer.getvalue(), out / 'distance' / f'{name}.npy')
    atomic_write_bytes(
        png_bytes(overlay_changes(image_b, change)),
        out / 'overlay' / f'{name}.png')


def csv_row(name: str, change: np.ndarray, gsd, gsd_from: str) -> dict:
    h, w = change.shape
    pixels = int(np.count_nonzero(change))
    return dict(
        name=name,
        height=h,
        width=w,
        changed_pixels=pixels,
        changed_fraction=f'{pixels / (h * w):.6f}',
        changed_area_m2=''
        if gsd is None else f'{pixels * gsd[0] * gsd[1]:.10g}',
        gsd_m='' if gsd is None else gsd_text(gsd),
        gsd_from=gsd_from)


@torch.no_grad()
def infer_pair(model, pipeline: Compose, policy: WindowPolicy, path_a: Path,
               path_b: Path):
    """The (change, distance) maps of one pair, date B as RGB, and the mode the
    model inferred it in (set in its test_cfg by ``policy`` for the pair's
    size) with the message that says why."""
    info = dict(
        img_path=str(path_b),
        img_path_a=str(path_a),
        img_path_b=str(path_b),
        seg_fields=[],
        reduce_zero_label=False,
        label_map=None)
    data = pipeline(info)
    h, w = data['data_samples'].img_shape[:2]
    kept = {
        k: v
        for k, v in model.test_cfg.items()
        if k not in ('mode', 'crop_size', 'stride')
    }
    model.test_cfg = dict(kept, **policy.test_cfg(h, w))
    sample = model.test_step(pseudo_collate([data]))[0]
    change = sample.pred_sem_seg.data[0].cpu().numpy().astype(np.uint8)
    logits = sample.seg_logits.data
    if logits.shape[0] != 1:
        raise RuntimeError(
            f'the model returned seg_logits with {logits.shape[0]} channels; '
            'a change-detection model returns one distance map')
    # Date B as read, at the size the prediction is returned in.
    image_b = mmcv.imread(str(path_b), channel_order='rgb')
    return (change, logits[0].float().cpu().numpy(), image_b,
            model.test_cfg['mode'], policy.message(h, w))


def first_of(lines: List[str]) -> str:
    """The first of ``lines``, with how many more there are."""
    more = f' ({len(lines) - 1} more alike)' if len(lines) > 1 else ''
    return lines[0] + more


def main(argv=None):
    args = parse_args(argv)
    try:
        pairs, unpaired = find_pairs(Path(args.a), Path(args.b))
        cfg, model = load_model(args.config, args.checkpoint, args.device,
                                args.cfg_options)
        policy = WindowPolicy.from_args(args, cfg)
    except InputError as error:
        raise SystemExit(f'error: {error}')
    skipped = []
    for path in unpaired:
        skipped.append(str(path))
        print(
            f'skipped {path}: no image of that name in the other folder',
            file=sys.stderr)
    pipeline = unlabelled_test_pipeline(cfg, LABEL_LOADERS)
    out = Path(args.out)
    folders = Path(args.a).is_dir()
    rows, modes, told = [], Counter(), set()
    converted, unusable, mismatches = [], [], []
    for path_a, path_b in tqdm(pairs, unit='pair', disable=not folders):
        name = path_a.name if folders else f'{path_a} and {path_b}'
        try:
            change, distance, image_b, mode, message = infer_pair(
                model, pipeline, policy, path_a, path_b)
        except (ValueError, OSError) as error:
            skipped.append(name)
            tqdm.write(f'skipped {name}: {error}', file=sys.stderr)
            continue
        if mode not in told:
            told.add(mode)
            tqdm.write(message)
        modes[mode] += 1
        for path in (path_a, path_b):
            colours = colour_mode(path)
            if colours not in ('RGB', None):
                converted.append((path, colours))
        gsd, gsd_from, notes, mismatch = pair_gsd(path_a, path_b, args.gsd)
        unusable += notes if gsd is None else []
        mismatches += [mismatch] if mismatch else []
        write_outputs(out, path_b.stem, image_b, change, distance, args.vmax,
                      args.save_npy)
        rows.append(csv_row(path_b.stem, change, gsd, gsd_from))
    if not rows:
        raise SystemExit(f'error: none of the {len(skipped)} input(s) could '
                         'be inferred')
    atomic_write_bytes(csv_bytes(rows, CSV_COLUMNS), out / 'changes.csv')
    print(f'Wrote change, distance and overlay maps of {len(rows)} pair(s) '
          f'({policy.summary(modes)}) and changes.csv to {osp.abspath(out)}')
    if converted:
        path, colours = converted[0]
        print(f'Note: {len(converted)} input image(s) were not RGB and were '
              f'converted to RGB (grey repeated, alpha dropped), e.g. {path} '
              f'({colours})')
    without_area = sum(not row['changed_area_m2'] for row in rows)
    if without_area:
        why = (
            first_of(unusable) if unusable else 'neither --gsd nor a '
            'GeoTIFF pixel scale gives the ground sampling distance')
        print(f'Note: {without_area} pair(s) have no changed area in m2: '
              f'{why}; --gsd METRES gives it')
    if mismatches:
        print(f'Warning: {first_of(mismatches)}', file=sys.stderr)
    if skipped:
        print(
            f'Skipped {len(skipped)} input(s): {", ".join(skipped)}',
            file=sys.stderr)
        sys.exit(1)


if __name__ == '__main__':
    main()
