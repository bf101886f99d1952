"""OCTA-500 (Li et al., Medical Image Analysis 2024) in its release layout."""
import csv
import io
import os.path as osp
from typing import Dict, List, Optional, Tuple
from zipfile import BadZipFile

import mmengine.fileio as fileio
from mmseg.datasets import BaseSegDataset
from openpyxl import load_workbook
from PIL import Image, UnidentifiedImageError
from tqdm import tqdm

from mmzoo.registry import DATASETS
from .transforms.octa_targets import read_faz_mask


def check_sample(img_path: str, seg_map_path: str,
                 backend_args: Optional[dict]) -> int:
    """The image's width, after checking that the image can be read and its
    mask is binary and of its size; errors name the file."""
    content = fileio.get(img_path, backend_args=backend_args)
    try:
        with Image.open(io.BytesIO(content)) as image:
            width, height = image.size
    except (UnidentifiedImageError, OSError) as error:
        raise ValueError(f'could not read the image {img_path} '
                         f'({len(content)} bytes): {error}') from error
    mask = read_faz_mask(
        fileio.get(seg_map_path, backend_args=backend_args), seg_map_path)
    if mask.shape != (height, width):
        raise ValueError(
            f'FAZ mask {seg_map_path} is {mask.shape[1]}x{mask.shape[0]} but '
            f'its image {img_path} is {width}x{height} (width x height)')
    return width


def checked(data_list: List[dict], folder: str,
            backend_args: Optional[dict]) -> List[dict]:
    """``data_list`` with ``pixel_spacing`` set, once every sample passed
    :func:`check_sample` (with a progress bar on a terminal), so that a broken
    file stops a run before its first iteration rather than hours in."""
    for info in tqdm(
            data_list,
            desc=f'checking the images and masks of {folder}',
            unit='image',
            leave=False,
            disable=None):
        width = check_sample(info['img_path'], info['seg_map_path'],
                             backend_args)
        info['pixel_spacing'] = info['fov_mm'] / width
    return data_list


def match_class(name: str, classes: Tuple[str, ...], where: str) -> int:
    """Index of ``name`` in ``classes``, ignoring case and surrounding
    spaces."""
    folded = [c.casefold() for c in classes]
    key = str(name).strip().casefold()
    if key not in folded:
        raise ValueError(f'{where}: unknown class name {name!r}; expected '
                         f'one of {tuple(classes)} (metainfo '
                         "'diagnosis_classes')")
    return folded.index(key)


def read_label_sheet(path: str, backend_args: Optional[dict]) -> List[list]:
    """The rows of a label sheet, .xlsx (first worksheet) or .csv, as lists of
    cell values."""
    data = fileio.get(path, backend_args=backend_args)
    if path.lower().endswith('.xlsx'):
        try:
            workbook = load_workbook(
                io.BytesIO(data), read_only=True, data_only=True)
        except (BadZipFile, KeyError, ValueError, OSError) as error:
            raise ValueError(f'could not read the label sheet {path} '
                             f'({len(data)} bytes) as a workbook: '
                             f'{error}') from error
        try:
            return [
                list(row)
                for row in workbook.worksheets[0].iter_rows(values_only=True)
            ]
        finally:
            workbook.close()
    if path.lower().endswith('.csv'):
        return list(csv.reader(io.StringIO(data.decode('utf-8-sig'))))
    raise ValueError(f'label sheet {path} must be .xlsx or .csv')


@DATASETS.register_module()
class OCTA500Dataset(BaseSegDataset):
    """One field of view of OCTA-500 with FAZ masks and diagnoses.

    .. code-block:: none

        data_root/OCTA_6mm/Projection Maps/OCTA(ILM_OPL)/10001.bmp  image
        data_root/OCTA_6mm/Text labels.xlsx   ID, Sex, OS/OD, Age, Disease
        data_root/Label/GT_FAZ/10001.bmp      FAZ mask, 0 or 255
        (OCTA_3mm likewise, subjects 10301-10500)

    OCTA-500 has 300 subjects scanned over 6 mm x 6 mm (400 x 400 pixels,
    IDs 10001-10300) and 200 over 3 mm x 3 mm (304 x 304, IDs 10301-10500).
    The label sheet (.xlsx as released, or the same table saved as .csv)
    gives each subject's disease; its header row must name the columns
    ``ID`` and ``Disease``. The subjects are the sheet's rows (those within
    ``subjects`` when given); each must have an image and a mask, every
    image in the image folder must have a row, and every disease must be one
    of ``metainfo['diagnosis_classes']``: otherwise an error names the file
    or the sheet's row. The mask folder may hold other subjects' masks
    (OCTA-500 keeps both fields of view in one).

    Each data info carries ``img_path``, ``seg_map_path``, ``gt_class`` (the
    disease's index), ``subject_id`` (the ID as text), ``fov_mm`` and
    ``pixel_spacing``: mm per pixel of the original image, ``fov_mm``
    divided by its width, for distances in mm. Every image and mask is
    checked when the dataset is built (a progress bar shows it on a
    terminal): the image readable, the mask binary (0/255 or 0/1) and of its
    image's size; ``LoadFAZAnnotation`` checks the mask again when loaded.

    Args:
        fov_mm (float): Width of the field of view in mm: 6.0 or 3.0 for
            OCTA-500. Defaults to 6.0.
        label_sheet (str): The label sheet, relative to ``data_root``.
            Defaults to 'OCTA_6mm/Text labels.xlsx'.
        subjects (tuple[int], optional): First and last subject ID (both
            included) of the split to read. Defaults to None (every row).
        data_prefix (dict): Image and mask folders under ``data_root``
            (keys ``img_path`` and ``seg_map_path``). Defaults to the 6 mm
            inner-retina projection (ILM to OPL, where the FAZ is seen) and
            ``Label/GT_FAZ``.
        img_suffix (str): Suffix of the images. Defaults to '.bmp'.
        seg_map_suffix (str): Suffix of the masks. Defaults to '.bmp'.
        **kwargs: Everything else :class:`mmseg.datasets.BaseSegDataset`
            takes (``data_root``, ``pipeline``, ``metainfo``, ...).
            ``metainfo=dict(diagnosis_classes=...)`` sets the diseases and
            their order (class index); ``reduce_zero_label`` must stay False.
    """
    METAINFO = dict(
        classes=('background', 'FAZ'),
        palette=[[0, 0, 0], [255, 255, 255]],
        # Every disease of the released sheets; the 3 mm set has the first
        # four only.
        diagnosis_classes=('NORMAL', 'AMD', 'DR', 'CNV', 'CSC', 'RVO',
                           'OTHERS'))

    def __init__(self,
                 fov_mm: float = 6.0,
                 label_sheet: str = 'OCTA_6mm/Text labels.xlsx',
                 subjects: Optional[Tuple[int, int]] = None,
                 data_prefix: dict = dict(
                     img_path='OCTA_6mm/Projection Maps/OCTA(ILM_OPL)',
                     seg_map_path='Label/GT_FAZ'),
                 img_suffix: str = '.bmp',
                 seg_map_suffix: str = '.bmp',
                 **kwargs) -> None:
        if fov_mm <= 0:
            raise ValueError(f'fov_mm must be positive, got {fov_mm}')
        if subjects is not None and (len(subjects) != 2
                                     or subjects[0] > subjects[1]):
            raise ValueError(f'subjects must be (first, last), got {subjects}')
        if kwargs.get('reduce_zero_label'):
            raise ValueError(f'{type(self).__name__} needs '
                             'reduce_zero_label=False: 0 is the background')
        self.fov_mm = float(fov_mm)
        self.label_sheet = label_sheet
        self.subjects = None if subjects is None else tuple(subjects)
        super().__init__(
            data_prefix=data_prefix,
            img_suffix=img_suffix,
            seg_map_suffix=seg_map_suffix,
            **kwargs)

    def _in_split(self, subject: int) -> bool:
        return (self.subjects is None
                or self.subjects[0] <= subject <= self.subjects[1])

    def _read_diagnoses(self) -> Dict[int, Tuple[int, str]]:
        """Subject ID -> (class index, 'sheet row N') of the split's rows."""
        path = self.label_sheet
        if self.data_root and not osp.isabs(path):
            path = osp.join(self.data_root, path)
        if not fileio.exists(path, backend_args=self.backend_args):
            raise FileNotFoundError(f'label sheet {path} does not exist')
        rows = read_label_sheet(path, self.backend_args)
        for number, row in enumerate(rows, 1):
            names = [str(cell).strip().casefold() for cell in row]
            if 'id' in names and 'disease' in names:
                id_col, disease_col = names.index('id'), names.index('disease')
                break
        else:
            raise ValueError(f'label sheet {path} has no header row naming '
                             "the columns 'ID' and 'Disease'")
        classes = self.metainfo['diagnosis_classes']
        diagnoses = {}
        for number, row in enumerate(rows[number:], number + 1):
            where = f'{path} row {number}'
            cells = list(row) + [None] * (
                max(id_col, disease_col) + 1 - len(row))
            if all(cell in (None, '') for cell in cells):
                continue
            try:
                subject = int(float(str(cells[id_col]).strip()))
            except ValueError:
                raise ValueError(f'{where}: subject ID {cells[id_col]!r} is '
                                 'not a number') from None
            if subject in diagnoses:
                raise ValueError(f'{where}: subject {subject} is listed '
                                 f'again (first at {diagnoses[subject][1]})')
            if cells[disease_col] in (None, ''):
                raise ValueError(f'{where}: subject {subject} has no disease')
            diagnoses[subject] = (match_class(cells[disease_col], classes,
                                              where), where)
        return {s: d for s, d in diagnoses.items() if self._in_split(s)}

    def load_data_list(self) -> List[dict]:
        img_dir = self.data_prefix['img_path']
        seg_dir = self.data_prefix['seg_map_path']
        for key, folder in (('img_path', img_dir), ('seg_map_path', seg_dir)):
            if not fileio.isdir(folder, backend_args=self.backend_args):
                raise FileNotFoundError(
                    f'{key} folder {folder} of {type(self).__name__} does '
                    'not exist')
        diagnoses = self._read_diagnoses()
        images = {}
        for name in fileio.list_dir_or_file(
                img_dir,
                list_dir=False,
                suffix=self.img_suffix,
                backend_args=self.backend_args):
            stem = name[:-len(self.img_suffix)]
            if not stem.isdigit():
                raise ValueError(f'image {osp.join(img_dir, name)} is not '
                                 'named by a numeric subject ID')
            if self._in_split(int(stem)):
                images[int(stem)] = osp.join(img_dir, name)
        unlisted = sorted(set(images) - set(diagnoses))
        if unlisted:
            raise ValueError(f'image {images[unlisted[0]]} has no row in the '
                             f'label sheet {self.label_sheet}')
        data_list = []
        for subject, (gt_class, where) in sorted(diagnoses.items()):
            if subject not in images:
                raise FileNotFoundError(
                    f'{where}: subject {subject} has no image: '
                    f'{osp.join(img_dir, f"{subject}{self.img_suffix}")} '
                    'is missing')
            img_path = images[subject]
            seg_map_path = osp.join(seg_dir, f'{subject}{self.seg_map_suffix}')
            if not fileio.exists(seg_map_path, backend_args=self.backend_args):
                raise FileNotFoundError(f'{where}: subject {subject} has no '
                                        f'FAZ mask: {seg_map_path} is '
                                        'missing')
            data_list.append(
                dict(
                    img_path=img_path,
                    seg_map_path=seg_map_path,
                    gt_class=gt_class,
                    subject_id=str(subject),
                    fov_mm=self.fov_mm,
                    label_map=self.label_map,
                    reduce_zero_label=False,
                    seg_fields=[]))
        if not data_list:
            split = '' if self.subjects is None else (
                f' with IDs {self.subjects[0]}-{self.subjects[1]}')
            raise ValueError(
                f'label sheet {self.label_sheet} lists no subjects{split}')
        return checked(data_list, img_dir, self.backend_args)
