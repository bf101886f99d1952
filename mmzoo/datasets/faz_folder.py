"""FAZ segmentation sets laid out as class folders (FAZID, OCTAGON)."""
import os.path as osp
from typing import List

import mmengine.fileio as fileio
from mmseg.datasets import BaseSegDataset

from mmzoo.registry import DATASETS
from .octa500 import checked, match_class


@DATASETS.register_module()
class FAZFolderDataset(BaseSegDataset):
    """OCTA images, FAZ masks and diagnoses given by class folders.

    .. code-block:: none

        data_root/<img_path>/Normal/12.png        image
        data_root/<seg_map_path>/Normal/12.png    FAZ mask, 0 or 255
        data_root/<img_path>/Diabetic/...         one folder per class

    This is how FAZID (Agarwal et al., 2020: 304 6 mm x 6 mm scans of 420 x
    420 pixels of normal, diabetic and myopic eyes) and OCTAGON are sorted
    once split, and what ``make_synthetic_octa.py --layout fazid`` writes. A
    class folder must be one of ``metainfo['diagnosis_classes']`` (case is
    ignored), every image must have a mask at the same relative path and
    every mask an image; otherwise an error names the folder or file. Every
    image and mask is checked when the dataset is built, as
    :class:`OCTA500Dataset` checks them.

    Each data info carries ``img_path``, ``seg_map_path``, ``gt_class``,
    ``subject_id`` ('<class>/<name>'), ``fov_mm`` and ``pixel_spacing``
    (``fov_mm`` divided by the image's width, mm per pixel).

    Args:
        fov_mm (float): Width of the field of view in mm. Defaults to 6.0
            (FAZID).
        data_prefix (dict): Image and mask folders under ``data_root``
            (keys ``img_path`` and ``seg_map_path``). Defaults to 'image'
            and 'mask'.
        img_suffix (str): Suffix of the images. Defaults to '.png'.
        seg_map_suffix (str): Suffix of the masks. Defaults to '.png'.
        **kwargs: Everything else :class:`mmseg.datasets.BaseSegDataset`
            takes (``data_root``, ``pipeline``, ``metainfo``, ...).
            ``metainfo=dict(diagnosis_classes=...)`` sets the class folders
            and their order (class index).
    """
    METAINFO = dict(
        classes=('background', 'FAZ'),
        palette=[[0, 0, 0], [255, 255, 255]],
        diagnosis_classes=('Normal', 'Diabetic', 'Myopic'))

    def __init__(self,
                 fov_mm: float = 6.0,
                 data_prefix: dict = dict(
                     img_path='image', seg_map_path='mask'),
                 img_suffix: str = '.png',
                 seg_map_suffix: str = '.png',
                 **kwargs) -> None:
        if fov_mm <= 0:
            raise ValueError(f'fov_mm must be positive, got {fov_mm}')
        if kwargs.get('reduce_zero_label'):
            raise ValueError(f'{type(self).__name__} needs '
                             'reduce_zero_label=False: 0 is the background')
        self.fov_mm = float(fov_mm)
        super().__init__(
            data_prefix=data_prefix,
            img_suffix=img_suffix,
            seg_map_suffix=seg_map_suffix,
            **kwargs)

    def _scan(self, key: str, suffix: str) -> List[str]:
        """'<class>/<file>' of every ``suffix`` file under the ``key`` folder,
        refusing files outside a class folder."""
        folder = self.data_prefix[key]
        if not fileio.isdir(folder, backend_args=self.backend_args):
            raise FileNotFoundError(
                f'{key} folder {folder} of {type(self).__name__} does not '
                'exist')
        names = sorted(
            fileio.list_dir_or_file(
                folder,
                list_dir=False,
                suffix=suffix,
                recursive=True,
                backend_args=self.backend_args))
        for name in names:
            if len(name.replace('\\', '/').split('/')) != 2:
                raise ValueError(f'{osp.join(folder, name)} is not directly '
                                 'inside a class folder')
        return names

    def load_data_list(self) -> List[dict]:
        img_dir = self.data_prefix['img_path']
        seg_dir = self.data_prefix['seg_map_path']
        images = self._scan('img_path', self.img_suffix)
        masks = set(self._scan('seg_map_path', self.seg_map_suffix))
        classes = self.metainfo['diagnosis_classes']
        stems = {name[:-len(self.img_suffix)] for name in images}
        orphans = sorted(name for name in masks
                         if name[:-len(self.seg_map_suffix)] not in stems)
        if orphans:
            raise FileNotFoundError(
                f'FAZ mask {osp.join(seg_dir, orphans[0])} has no image in '
                f'{img_dir}')
        data_list = []
        for name in images:
            folder, _ = name.replace('\\', '/').split('/')
            img_path = osp.join(img_dir, name)
            gt_class = match_class(
                folder, classes, f'class folder {osp.join(img_dir, folder)}')
            stem = name[:-len(self.img_suffix)]
            seg_map_path = osp.join(seg_dir, stem + self.seg_map_suffix)
            if stem + self.seg_map_suffix not in masks:
                raise FileNotFoundError(f'image {img_path} has no FAZ mask: '
                                        f'{seg_map_path} is missing')
            data_list.append(
                dict(
                    img_path=img_path,
                    seg_map_path=seg_map_path,
                    gt_class=gt_class,
                    subject_id=stem.replace('\\', '/'),
                    fov_mm=self.fov_mm,
                    label_map=self.label_map,
                    reduce_zero_label=False,
                    seg_fields=[]))
        if not data_list:
            raise FileNotFoundError(
                f'no {self.img_suffix} images in the class folders of '
                f'{img_dir}')
        return checked(data_list, img_dir, self.backend_args)
