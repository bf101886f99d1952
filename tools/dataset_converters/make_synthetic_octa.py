"""Write a small synthetic OCTA-500 or FAZID set of en-face OCTA images.

OCTA-500 layout (the default, read by ``mmzoo.OCTA500Dataset``)::

    OUT/OCTA_6mm/Projection Maps/OCTA(ILM_OPL)/10001.bmp ...   400 x 400
    OUT/OCTA_6mm/Text labels.xlsx          ID, Sex, OS/OD, Age, Disease
    OUT/OCTA_3mm/Projection Maps/OCTA(ILM_OPL)/10301.bmp ...   304 x 304
    OUT/OCTA_3mm/Text labels.xlsx
    OUT/Label/GT_FAZ/<id>.bmp              8-bit, 0 background, 255 FAZ

Subjects are numbered as in OCTA-500 (6 mm from 10001, 3 mm from 10301).
``--sheet-format csv`` writes ``Text labels.csv`` instead of the workbook.
``--layout fazid`` writes FAZID-style class folders instead (read by
``mmzoo.FAZFolderDataset``; 6 mm, 420 x 420 by default)::

    OUT/{train,val,test}/{image,mask}/{Normal,Diabetic,Myopic}/<n>.png

Each image is a superficial-plexus projection: a dark foveal avascular zone
(FAZ) near the centre, surrounded by a capillary mesh and trees of larger
vessels that branch and thin towards the fovea and stop at its edge, under
multiplicative speckle and sensor noise; a broken ring of capillaries (the
perifoveal arcade) lines the FAZ's edge. The three diagnoses differ in
both tasks' cues, with overlapping ranges, so that neither task is solved by
one number: NORMAL (FAZID "Normal") has a round, medium FAZ and a dense
mesh; DR ("Diabetic") a large, lobulated FAZ, a sparse mesh with patches of
capillary dropout and fewer vessels; AMD ("Myopic") a small, elongated FAZ
and a mesh of medium density. Lengths are in millimetres and scale with the
field of view and ``--size``; the FAZ is about twice as wide as a real one so
that it stays a learnable object at the small sizes tests use (``--size
96``). Subjects cycle through the classes (balanced splits for contiguous ID
ranges) and each is drawn from a generator keyed by seed, field of view and
ID: the same seed writes byte-identical files, the workbook included.
"""
import csv
import io
import zipfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import List, Sequence, Tuple

import cv2
import numpy as np

from mmzoo.utils.fileio import atomic_write_bytes
from mmzoo.utils.synthetic import (GeneratorParser, image_rng,
                                   non_negative_int, polygon_mask, write_image)

# Field of view in mm, native side in pixels and first subject ID of each
# OCTA-500 subset.
OCTA500_FOVS = {'6mm': (6.0, 400, 10001), '3mm': (3.0, 304, 10301)}
PROJECTION = 'Projection Maps/OCTA(ILM_OPL)'
FAZ_FOLDER = 'Label/GT_FAZ'
SHEET_NAME = 'Text labels'
SHEET_HEADER = ('ID', 'Sex', 'OS/OD', 'Age', 'Disease')
# FAZID: 6 mm scans of 420 x 420 pixels.
FAZID_FOV = (6.0, 420)
SPLITS = ('train', 'val', 'test')


@dataclass(frozen=True)
class Diagnosis:
    """How the eyes of one class look.

    Args:
        octa500 (str): Disease name in the OCTA-500 label sheet.
        fazid (str): Class folder in the FAZID layout.
        faz_radius (tuple[float]): Range of the FAZ's mean radius in mm.
        lobes (float): Amplitude of the radius's 3rd-7th harmonics; 0 is a
            smooth outline.
        elongation (tuple[float]): Range of the FAZ's axis ratio.
        mesh_spacing (float): Typical gap between capillaries in mm.
        dropout (float): Fraction of the mesh lost in dropout patches.
        trees (tuple[int]): Range of the number of large vessel trees.
    """
    octa500: str
    fazid: str
    faz_radius: Tuple[float, float]
    lobes: float
    elongation: Tuple[float, float]
    mesh_spacing: float
    dropout: float
    trees: Tuple[int, int]


DIAGNOSES = (
    Diagnosis('NORMAL', 'Normal', (0.55, 0.8), 0.02, (1.0, 1.15), 0.12, 0.0,
              (7, 9)),
    Diagnosis('DR', 'Diabetic', (0.7, 1.0), 0.09, (1.0, 1.2), 0.2, 0.45,
              (4, 6)),
    Diagnosis('AMD', 'Myopic', (0.45, 0.7), 0.03, (1.35, 1.7), 0.16, 0.1,
              (5, 7)),
)


def smooth_noise(rng: np.random.Generator, shape: Tuple[int, int],
                 sigma: float) -> np.ndarray:
    """Zero-mean, unit-variance noise correlated over ``sigma`` pixels."""
    field = cv2.GaussianBlur(
        rng.normal(size=shape).astype(np.float32), (0, 0), sigma)
    return (field - field.mean()) / (field.std() + 1e-8)


def faz_outline(rng: np.random.Generator, diagnosis: Diagnosis,
                centre: Tuple[float, float], px_per_mm: float) -> np.ndarray:
    """(N, 2) (x, y) vertices of a FAZ: an ellipse whose radius carries random
    harmonics (lobes)."""
    angles = np.linspace(0, 2 * np.pi, 96, endpoint=False)
    radius = rng.uniform(*diagnosis.faz_radius) * px_per_mm
    shape = np.ones_like(angles)
    for k in range(3, 8):
        shape += (
            diagnosis.lobes * rng.uniform(0.5, 1.5) *
            np.cos(k * angles + rng.uniform(0, 2 * np.pi)))
    ratio = rng.uniform(*diagnosis.elongation)
    tilt = rng.uniform(0, np.pi)
    x = radius * shape * np.cos(angles) * np.sqrt(ratio)
    y = radius * shape * np.sin(angles) / np.sqrt(ratio)
    cos, sin = np.cos(tilt), np.sin(tilt)
    return np.stack(
        [centre[0] + x * cos - y * sin, centre[1] + x * sin + y * cos], 1)


def capillary_mesh(rng: np.random.Generator, size: int, spacing_px: float,
                   dropout: float, spared: np.ndarray) -> np.ndarray:
    """A network of thin bright curves in [0, 1].

    The zero level set of smooth noise is a mesh of closed curves whose gaps
    follow the noise's correlation length; dropout multiplies in dark patches
    covering about ``dropout`` of the image, except where ``spared`` (in [0,
    1]) keeps the mesh.
    """
    noise = smooth_noise(rng, (size, size), max(spacing_px / 3, 0.7))
    mesh = np.exp(-(noise / 0.35)**2)
    if dropout > 0:
        patches = smooth_noise(rng, (size, size), max(spacing_px * 2.5, 2))
        threshold = np.quantile(patches, 1 - dropout)
        kept = np.clip(3 * (threshold - patches) + 0.5, 0, 1)
        mesh *= kept + (1 - kept) * spared
    return mesh


def vessel_trees(rng: np.random.Generator, size: int, count: int,
                 centre: Tuple[float, float], px_per_mm: float) -> np.ndarray:
    """Large vessels in [0, 1]: trees entering from the periphery, branching
    and thinning as they wind towards the fovea."""
    canvas = np.zeros((size, size), np.uint8)
    step = max(1.5, 0.05 * px_per_mm)
    step_mm = step / px_per_mm
    reach = 0.45 * px_per_mm  # vessels end short of the FAZ centre
    centre = np.array(centre)
    # (start, heading, width in mm, length left in mm, depth)
    stack = []
    for tree in range(count):
        angle = 2 * np.pi * (tree + rng.uniform(0.2, 0.8)) / count
        start = centre + 0.72 * size * np.array([np.cos(angle), np.sin(angle)])
        # A root runs until it nears the fovea, at most 1.5 image sides.
        stack.append((start, angle + np.pi, 0.07 * rng.uniform(0.8, 1.2),
                      1.5 * size / px_per_mm, 0))
    while stack:
        point, heading, width_mm, length_mm, depth = stack.pop()
        brightness = int(rng.integers(170, 256))
        travelled = 0.0
        while travelled < length_mm:
            heading += rng.normal(0, 0.15)
            # Steer gently towards the fovea.
            to_centre = np.arctan2(*(centre - point)[::-1])
            heading += 0.08 * np.sin(to_centre - heading)
            nxt = point + step * np.array([np.cos(heading), np.sin(heading)])
            thickness = max(1, int(round(width_mm * px_per_mm)))
            cv2.line(canvas, tuple(int(v) for v in np.round(point)),
                     tuple(int(v) for v in np.round(nxt)), brightness,
                     thickness, cv2.LINE_AA)
            point = nxt
            travelled += step_mm
            if np.hypot(*(point - centre)) < reach:
                break
            if depth < 3 and rng.random() < 0.5 * step_mm:
                # About one side branch per 2 mm, shorter at each level.
                side = rng.choice([-1, 1])
                stack.append(
                    (point.copy(),
                     heading + side * rng.uniform(0.4, 0.9), width_mm * 0.7,
                     rng.uniform(0.6, 1.6) * 0.7**depth, depth + 1))
                width_mm *= 0.9
    return canvas.astype(np.float32) / 255


def make_eye(rng: np.random.Generator, diagnosis: Diagnosis, size: int,
             fov_mm: float) -> Tuple[np.ndarray, np.ndarray]:
    """(image, FAZ mask) of one eye: uint8 grey and uint8 0/255."""
    px_per_mm = size / fov_mm
    centre = tuple(size / 2 + rng.normal(0, 0.03 * size, 2))
    faz = polygon_mask(faz_outline(rng, diagnosis, centre, px_per_mm), size)
    # Dropout spares a ring of capillaries around the FAZ so that the FAZ's
    # edge stays where the mask says.
    distance = cv2.distanceTransform((~faz).astype(np.uint8), cv2.DIST_L2, 5)
    spared = np.clip(1 - distance / (0.3 * px_per_mm), 0, 1)
    mesh = capillary_mesh(rng, size, diagnosis.mesh_spacing * px_per_mm,
                          diagnosis.dropout, spared)
    trees = vessel_trees(
        rng, size,
        int(rng.integers(diagnosis.trees[0],
                         diagnosis.trees[1] + 1)), centre, px_per_mm)
    # The perifoveal capillary arcade: a broken ring along the FAZ's edge.
    width = max(1.0, 0.03 * px_per_mm)
    arcade = np.exp(-((distance - width) / width)**2) * np.clip(
        0.6 + smooth_noise(rng, (size, size), 2 * width), 0, 1)
    signal = np.maximum.reduce([
        rng.uniform(0.45, 0.65) * mesh,
        rng.uniform(0.4, 0.6) * arcade,
        rng.uniform(0.75, 1.0) * trees
    ])
    # Flow stops at the FAZ's edge; a background haze remains inside.
    signal[faz] = 0
    image = rng.uniform(0.06, 0.12) + signal
    # Speckle: multiplicative gamma noise, then sensor noise and the
    # scanner's point spread.
    image *= rng.gamma(5.0, 1 / 5.0, image.shape)
    image += rng.normal(0, 0.03, image.shape)
    image = cv2.GaussianBlur(image.astype(np.float32), (0, 0), 0.6)
    image = rng.uniform(0.8, 1.15) * np.clip(image, 0, None)**rng.uniform(
        0.85, 1.15)
    image = np.clip(np.round(image * 255), 0, 255).astype(np.uint8)
    return image, faz.astype(np.uint8) * 255


def sheet_row(rng: np.random.Generator, subject: int,
              diagnosis: Diagnosis) -> List:
    """A label-sheet row: ID, Sex, OS/OD, Age, Disease."""
    return [
        subject,
        str(rng.choice(['M', 'F'])),
        str(rng.choice(['OD', 'OS'])),
        int(rng.integers(20, 80)), diagnosis.octa500
    ]


def xlsx_bytes(rows: Sequence[Sequence]) -> bytes:
    """A one-sheet workbook, byte-identical for the same rows.

    openpyxl stamps the save time into the document properties and the zip
    entries; both are pinned here so that a seed fixes every byte.
    """
    from openpyxl import Workbook
    from openpyxl.writer.excel import ExcelWriter

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = SHEET_NAME
    for row in rows:
        sheet.append(list(row))
    stamp = datetime(2021, 1, 1)
    workbook.properties.created = workbook.properties.modified = stamp
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, 'w', zipfile.ZIP_DEFLATED) as archive:
        ExcelWriter(workbook, archive).write_data()
    pinned = io.BytesIO()
    with zipfile.ZipFile(buffer) as src, zipfile.ZipFile(
            pinned, 'w', zipfile.ZIP_DEFLATED) as dst:
        for name in src.namelist():
            info = zipfile.ZipInfo(name, date_time=(2021, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            dst.writestr(info, src.read(name))
    return pinned.getvalue()


def csv_bytes(rows: Sequence[Sequence]) -> bytes:
    text = io.StringIO()
    csv.writer(text, lineterminator='\n').writerows(rows)
    return text.getvalue().encode('utf-8')


def write_octa500(out: Path, args) -> str:
    for fov, count in (('6mm', args.num_6mm), ('3mm', args.num_3mm)):
        fov_mm, native, first = OCTA500_FOVS[fov]
        size = args.size or native
        rows = [SHEET_HEADER]
        for offset in range(count):
            subject = first + offset
            diagnosis = DIAGNOSES[offset % len(DIAGNOSES)]
            rng = image_rng(args.seed, fov, subject)
            image, mask = make_eye(rng, diagnosis, size, fov_mm)
            write_image(out / f'OCTA_{fov}' / PROJECTION / f'{subject}.bmp',
                        image)
            write_image(out / FAZ_FOLDER / f'{subject}.bmp', mask)
            rows.append(sheet_row(rng, subject, diagnosis))
        sheet = out / f'OCTA_{fov}' / f'{SHEET_NAME}.{args.sheet_format}'
        atomic_write_bytes(
            xlsx_bytes(rows)
            if args.sheet_format == 'xlsx' else csv_bytes(rows), sheet)
    return (f'{args.num_6mm} 6 mm and {args.num_3mm} 3 mm OCTA-500-style '
            'subjects')


def write_fazid(out: Path, args) -> str:
    fov_mm, native = FAZID_FOV
    size = args.size or native
    for split in SPLITS:
        for index in range(1, getattr(args, f'num_{split}') + 1):
            diagnosis = DIAGNOSES[(index - 1) % len(DIAGNOSES)]
            image, mask = make_eye(
                image_rng(args.seed, split, index), diagnosis, size, fov_mm)
            name = f'{diagnosis.fazid}/{index}.png'
            write_image(out / split / 'image' / name, image)
            write_image(out / split / 'mask' / name, mask)
    return (f'{args.num_train}/{args.num_val}/{args.num_test} '
            'train/val/test FAZID-style images')


def main(argv=None):
    parser = GeneratorParser(__doc__.splitlines()[0])
    parser.add_argument(
        '--layout',
        choices=('octa500', 'fazid'),
        default='octa500',
        help='folder layout to write')
    parser.add_argument(
        '--size',
        type=int,
        help='side of the square images in pixels; defaults to the real '
        "data's (400 for 6 mm and 304 for 3 mm OCTA-500, 420 for FAZID). "
        'Lengths in mm are kept, so a smaller image is a coarser view of '
        'the same field')
    octa500 = parser.add_argument_group('OCTA-500 layout')
    octa500.add_argument(
        '--num-6mm',
        type=non_negative_int,
        default=120,
        help='number of 6 mm subjects (IDs from 10001)')
    octa500.add_argument(
        '--num-3mm',
        type=non_negative_int,
        default=30,
        help='number of 3 mm subjects (IDs from 10301)')
    octa500.add_argument(
        '--sheet-format',
        choices=('xlsx', 'csv'),
        default='xlsx',
        help='format of the label sheet "Text labels"')
    fazid = parser.add_argument_group('FAZID layout')
    for split, default in zip(SPLITS, (36, 12, 12)):
        fazid.add_argument(
            f'--num-{split}',
            type=non_negative_int,
            default=default,
            help=f'number of {split} images')
    args = parser.parse_args(argv)
    if args.size is not None and args.size < 48:
        parser.error(f'--size must be at least 48, got {args.size}')
    out = parser.output_dir(args)
    write = write_octa500 if args.layout == 'octa500' else write_fazid
    print(f'Wrote {write(out, args)} to {out}')


if __name__ == '__main__':
    main()
