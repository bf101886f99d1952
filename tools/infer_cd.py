"""Detect changes between two images, or two folders of image pairs, with a
trained change-detection model.

    python tools/infer_cd.py A.png B.png --config CONFIG --checkpoint CKPT \\
        --out DIR
    python tools/infer_cd.py DIR_A DIR_B --config CONFIG --checkpoint CKPT \\
        --out DIR [--slide [--window 256] [--overlap 128]] [--save-npy]

Folders are paired by file name; a file without a partner stops the run
before any inference, naming it. For each pair NAME (the file stem) it
writes, atomically:

    DIR/change/NAME.png     the change map: 255 changed, 0 unchanged
    DIR/distance/NAME.png   the distance map as grey, 0 black and --vmax or
                            more white (with the default 2, STANet's
                            threshold 1 is mid-grey)
    DIR/distance/NAME.npy   the raw distances, float32 (with --save-npy)
    DIR/overlay/NAME.png    the changes in translucent red with outlines,
                            drawn over the date-B image

The images go through the config's test pipeline without its label loading
and are inferred as the config's model.test_cfg says (the whole image, for
the shipped configs), or with a sliding window (mmseg's test_cfg
mode='slide') with --slide. Grey, grey-alpha, RGBA and palette images are
converted to RGB (grey repeated, alpha dropped), as the model takes RGB
pairs; the output says so once. The checkpoint must fit the config's model
exactly.
"""
import argparse
import io
import os.path as osp
from pathlib import Path
from typing import List, Tuple

import cv2
import mmcv
import numpy as np
import torch
from mmengine.config import Config, DictAction
from mmengine.dataset import Compose, pseudo_collate
from mmengine.registry import init_default_scope
from PIL import Image
from tqdm import tqdm

from mmzoo.engine import (CheckpointError, UnsafeCheckpointError, init_model,
                          install_checkpoint_safety)
from mmzoo.utils.fileio import atomic_write_bytes
from mmzoo.visualization import distance_to_image, overlay_changes

IMAGE_SUFFIXES = ('.png', '.jpg', '.jpeg', '.tif', '.tiff', '.bmp')
LABEL_LOADERS = ('LoadChangeLabel', 'LoadAnnotations')


class InputError(Exception):
    """Bad input, reported without a traceback."""


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n\n')[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split('\n\n', 1)[1])
    parser.add_argument('a', help='date-A image or folder of images')
    parser.add_argument('b', help='date-B image or folder of images')
    parser.add_argument('--config', required=True, help='model config')
    parser.add_argument('--checkpoint', required=True, help='checkpoint')
    parser.add_argument('--out', required=True, help='output folder')
    parser.add_argument(
        '--slide',
        action='store_true',
        help='infer with a sliding window instead of the whole image')
    parser.add_argument(
        '--window',
        type=int,
        default=256,
        help='side of the sliding window (default: 256)')
    parser.add_argument(
        '--overlap',
        type=int,
        default=128,
        help='overlap of neighbouring windows in pixels (default: 128)')
    parser.add_argument(
        '--save-npy',
        action='store_true',
        help='also save the raw distance maps as .npy')
    parser.add_argument(
        '--vmax',
        type=float,
        default=2.0,
        help='distance drawn white in the distance picture (default: 2)')
    parser.add_argument(
        '--device',
        default='cuda' if torch.cuda.is_available() else 'cpu',
        help='device to run the model on (default: cuda if available)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings in the config, key=value pairs')
    args = parser.parse_args(argv)
    if args.slide and not 0 <= args.overlap < args.window:
        parser.error(f'--overlap must be in [0, --window), got '
                     f'{args.overlap} for a window of {args.window}')
    if args.vmax <= 0:
        parser.error(f'--vmax must be positive, got {args.vmax}')
    return args


def list_images(folder: Path) -> dict:
    return {
        p.name: p
        for p in sorted(folder.iterdir()) if p.suffix.lower() in IMAGE_SUFFIXES
    }


def find_pairs(a: Path, b: Path) -> List[Tuple[Path, Path]]:
    """(A, B) paths: one pair of files, or two folders matched by name."""
    for path in (a, b):
        if not path.exists():
            raise InputError(f'{path} does not exist')
    if a.is_file() and b.is_file():
        return [(a, b)]
    if not (a.is_dir() and b.is_dir()):
        raise InputError(f'give two images or two folders; {a} and {b} '
                         'are one of each')
    images_a, images_b = list_images(a), list_images(b)
    unmatched = ([str(p) for n, p in images_a.items() if n not in images_b] +
                 [str(p) for n, p in images_b.items() if n not in images_a])
    if unmatched:
        raise InputError(
            f'{len(unmatched)} images have no partner of the same name in '
            f'the other folder: {", ".join(unmatched[:10])}')
    if not images_a:
        raise InputError(f'no images ({", ".join(IMAGE_SUFFIXES)}) in {a}')
    stems = [Path(name).stem for name in images_a]
    clashes = sorted({s for s in stems if stems.count(s) > 1})
    if clashes:
        raise InputError(f'{a} holds several images named {clashes[0]} '
                         'with different suffixes; their outputs would clash')
    return [(images_a[name], images_b[name]) for name in images_a]


def load_config(args) -> Config:
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    if args.slide:
        stride = args.window - args.overlap
        cfg.model.test_cfg = dict(
            mode='slide',
            crop_size=(args.window, args.window),
            stride=(stride, stride))
    return cfg


def colour_mode(path: Path) -> str:
    """PIL's name for the colours of an image file ('RGB', 'L', 'RGBA'), read
    from its header."""
    with Image.open(path) as image:
        return image.mode


def build_pipeline(cfg: Config) -> Compose:
    steps = [
        step for step in cfg.test_dataloader.dataset.pipeline
        if step['type'].split('.')[-1] not in LABEL_LOADERS
    ]
    return Compose(steps)


def png_bytes(image: np.ndarray) -> bytes:
    if image.ndim == 3:
        image = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    ok, encoded = cv2.imencode('.png', image)
    if not ok:
        raise RuntimeError('cv2 could not encode a PNG')
    return encoded.tobytes()


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


@torch.no_grad()
def infer_pair(model, pipeline: Compose, path_a: Path, path_b: Path):
    """The (change, distance) maps of one pair and date B as RGB."""
    info = dict(
        img_path=str(path_b),
        img_path_a=str(path_a),
        img_path_b=str(path_b),
        seg_fields=[],
        reduce_zero_label=False,
        label_map=None)
    data = pipeline(info)
    sample = model.test_step(pseudo_collate([data]))[0]
    change = sample.pred_sem_seg.data[0].cpu().numpy().astype(np.uint8)
    logits = sample.seg_logits.data
    if logits.shape[0] != 1:
        raise RuntimeError(
            f'the model returned seg_logits with {logits.shape[0]} channels; '
            'a change-detection model returns one distance map')
    # Date B as read, at the size the prediction is returned in.
    image_b = mmcv.imread(str(path_b), channel_order='rgb')
    return change, logits[0].float().cpu().numpy(), image_b


def main(argv=None):
    args = parse_args(argv)
    try:
        pairs = find_pairs(Path(args.a), Path(args.b))
    except InputError as error:
        raise SystemExit(f'error: {error}')
    cfg = load_config(args)
    install_checkpoint_safety()
    init_default_scope(cfg.get('default_scope', 'mmzoo'))
    try:
        model = init_model(cfg.model, args.checkpoint, args.device)
    except (CheckpointError, UnsafeCheckpointError,
            FileNotFoundError) as error:
        raise SystemExit(f'error: {error}')
    pipeline = build_pipeline(cfg)
    out = Path(args.out)
    converted = []
    for path_a, path_b in tqdm(pairs, unit='pair', disable=len(pairs) == 1):
        try:
            change, distance, image_b = infer_pair(model, pipeline, path_a,
                                                   path_b)
            for path in (path_a, path_b):
                colours = colour_mode(path)
                if colours != 'RGB':
                    converted.append((path, colours))
        except (ValueError, FileNotFoundError, OSError) as error:
            raise SystemExit(f'error: {error}')
        write_outputs(out, path_b.stem, image_b, change, distance, args.vmax,
                      args.save_npy)
    test_cfg = cfg.model.get('test_cfg') or {}
    mode = (f'sliding {args.window}-pixel window, overlap {args.overlap}'
            if args.slide else f"mode {test_cfg.get('mode', 'whole')}")
    print(f'Wrote change, distance and overlay maps of {len(pairs)} '
          f'pair(s) ({mode}) to {osp.abspath(out)}')
    if converted:
        path, colours = converted[0]
        print(f'Note: {len(converted)} input image(s) were not RGB and were '
              f'converted to RGB (grey repeated, alpha dropped), e.g. {path} '
              f'({colours})')


if __name__ == '__main__':
    main()
