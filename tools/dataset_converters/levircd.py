"""Cut LEVIR-CD's 1024x1024 tiles into the 256x256 patches the paper trained
and evaluated on, and keep the whole val/test tiles for whole-image runs.

    python tools/dataset_converters/levircd.py SRC OUT [--patch 256]
        [--whole copy|symlink|none]

SRC is LEVIR-CD as downloaded: SRC/{train,val,test}/{A,B,label}/NAME.png.
OUT receives

    OUT/{train,val,test}/{A,B,label}/NAME_YYYY_XXXX.png   patches, named by
        the pixel row and column of their top-left corner (as the official
        STANet samples are), non-overlapping: 16 per 1024 tile, so LEVIR-CD's
        445/64/128 tiles give 7120/1024/2048 patches;
    OUT/whole/{val,test}/{A,B,label}/NAME.png   the original tiles (copies by
        default), read by configs/_base_/datasets/levircd.py's whole-image
        test dataloader for sliding-window or whole-image evaluation.

Every pair is checked before anything is written for it: a missing partner
or label, dates of different sizes, a tile side that is not a multiple of
--patch, or label values other than 0 and 255 stop the conversion with the
file named. Files are written atomically.
"""
import argparse
import os
from pathlib import Path
from typing import Dict, List

import cv2
import numpy as np
from tqdm import tqdm

from mmzoo.utils.fileio import atomic_write_bytes

SPLITS = ('train', 'val', 'test')
FOLDERS = ('A', 'B', 'label')
WHOLE_SPLITS = ('val', 'test')


class ConversionError(Exception):
    """Bad input, reported to the user without a traceback."""


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n\n')[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split('\n\n', 1)[1])
    parser.add_argument('src', help='LEVIR-CD root with train/val/test')
    parser.add_argument('out', help='output root, created if missing')
    parser.add_argument(
        '--patch',
        type=int,
        default=256,
        help='side of the square patches (default: 256, the paper\'s)')
    parser.add_argument(
        '--whole',
        choices=('copy', 'symlink', 'none'),
        default='copy',
        help='how to keep the whole val/test tiles under OUT/whole '
        '(default: copy)')
    parser.add_argument(
        '--splits',
        nargs='+',
        choices=SPLITS,
        default=list(SPLITS),
        help='splits to convert (default: all)')
    args = parser.parse_args(argv)
    if args.patch < 1:
        parser.error(f'--patch must be positive, got {args.patch}')
    return args


def find_pairs(split_dir: Path) -> List[Dict[str, Path]]:
    """The (A, B, label) paths of a split, checked for missing files."""
    names = {}
    for folder in FOLDERS:
        path = split_dir / folder
        if not path.is_dir():
            raise ConversionError(f'{path} does not exist; expected '
                                  'LEVIR-CD\'s {split}/{A,B,label} layout')
        names[folder] = {p.name for p in path.glob('*.png')}
    every = set().union(*names.values())
    pairs = []
    for name in sorted(every):
        missing = [
            split_dir / f / name for f in FOLDERS if name not in names[f]
        ]
        if missing:
            present = next(split_dir / f / name for f in FOLDERS
                           if name in names[f])
            raise ConversionError(f'{present} has no partner: missing '
                                  f'{", ".join(map(str, missing))}')
        pairs.append({f: split_dir / f / name for f in FOLDERS})
    if not pairs:
        raise ConversionError(f'no .png files in {split_dir}/A')
    return pairs


def read_pair(pair: Dict[str, Path], patch: int) -> Dict[str, np.ndarray]:
    images = {}
    for folder, path in pair.items():
        flag = cv2.IMREAD_UNCHANGED if folder == 'label' else cv2.IMREAD_COLOR
        image = cv2.imread(str(path), flag)
        if image is None:
            raise ConversionError(f'cannot read the image {path}')
        images[folder] = image
    label = images['label']
    if label.ndim != 2:
        raise ConversionError(f'label {pair["label"]} is not single-channel '
                              f'(shape {label.shape})')
    bad = sorted(set(np.unique(label).tolist()) - {0, 255})
    if bad:
        raise ConversionError(f'label {pair["label"]} holds values '
                              f'{bad[:10]}; only 0 and 255 are allowed')
    for folder in ('B', 'label'):
        if images[folder].shape[:2] != images['A'].shape[:2]:
            raise ConversionError(
                f'{pair[folder]} is {images[folder].shape[1]}x'
                f'{images[folder].shape[0]} but {pair["A"]} is '
                f'{images["A"].shape[1]}x{images["A"].shape[0]}')
    height, width = label.shape
    if height % patch or width % patch:
        raise ConversionError(
            f'{pair["A"]} is {width}x{height}, not a multiple of the '
            f'{patch}-pixel patch')
    return images


def write_png(path: Path, image: np.ndarray) -> None:
    ok, encoded = cv2.imencode('.png', image)
    if not ok:
        raise ConversionError(f'cv2 could not encode {path}')
    atomic_write_bytes(encoded.tobytes(), path)


def cut_pair(images: Dict[str, np.ndarray], stem: str, out_dir: Path,
             patch: int) -> int:
    height, width = images['label'].shape
    count = 0
    for y in range(0, height, patch):
        for x in range(0, width, patch):
            name = f'{stem}_{y:04d}_{x:04d}.png'
            for folder, image in images.items():
                write_png(out_dir / folder / name, image[y:y + patch,
                                                         x:x + patch])
            count += 1
    return count


def keep_whole(pair: Dict[str, Path], out_dir: Path, mode: str) -> None:
    for folder, path in pair.items():
        target = out_dir / folder / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        if mode == 'copy':
            atomic_write_bytes(path.read_bytes(), target)
        else:
            tmp = target.with_name(f'.{target.name}.link')
            if tmp.is_symlink() or tmp.exists():
                tmp.unlink()
            tmp.symlink_to(path.resolve())
            os.replace(tmp, target)


def convert(args) -> Dict[str, int]:
    src, out = Path(args.src), Path(args.out)
    # Check every split before writing anything.
    splits = {split: find_pairs(src / split) for split in args.splits}
    counts = {}
    for split, pairs in splits.items():
        counts[split] = 0
        for pair in tqdm(pairs, desc=f'{split}', unit='tile'):
            images = read_pair(pair, args.patch)
            counts[split] += cut_pair(images, pair['A'].stem, out / split,
                                      args.patch)
            if args.whole != 'none' and split in WHOLE_SPLITS:
                keep_whole(pair, out / 'whole' / split, args.whole)
    return counts


def main(argv=None):
    args = parse_args(argv)
    try:
        counts = convert(args)
    except ConversionError as error:
        raise SystemExit(f'error: {error}')
    summary = ', '.join(f'{split} {n}' for split, n in counts.items())
    print(f'Wrote {args.patch}x{args.patch} patches to {args.out}: '
          f'{summary}')


if __name__ == '__main__':
    main()
