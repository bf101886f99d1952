"""LEVIR-CD (Chen and Shi, Remote Sensing 2020) in its official layout."""
import io
import os.path as osp
from typing import List, Tuple

import mmengine.fileio as fileio
from mmseg.datasets import BaseSegDataset
from PIL import Image, UnidentifiedImageError
from tqdm import tqdm

from mmzoo.registry import DATASETS
from .transforms.bitemporal import check_change_label, decode_image


@DATASETS.register_module()
class LEVIRCDDataset(BaseSegDataset):
    """Bitemporal building-change pairs laid out as LEVIR-CD ships them.

    .. code-block:: none

        data_root/{train,val,test}/A/train_1.png       date A (RGB)
        data_root/{train,val,test}/B/train_1.png       date B (RGB)
        data_root/{train,val,test}/label/train_1.png   8-bit, 0 or 255

    ``tools/dataset_converters/levircd.py`` writes the 256x256 patches of the
    paper in this layout, and ``make_synthetic_levircd.py`` a generated
    stand-in. Pairs are matched by file name; the folder scan refuses a date-A
    image without its date-B partner or label and a date-B image without its
    date-A partner, naming the file. Every pair is then checked before
    training starts (a bar shows the progress): both dates readable and of
    one size, the label single-channel 0/255 and of their size. A broken
    pair stops the build with an error naming the file, instead of crashing
    a run after hours, when the sample is first drawn.

    Each data info carries ``img_path_a``, ``img_path_b``, ``img_path`` (date
    B's path, so that mmseg's visualiser draws over the later date) and
    ``seg_map_path``.

    Args:
        data_prefix (dict): Folders of date A, date B and the labels under
            ``data_root``: keys ``img_path_a``, ``img_path_b`` and
            ``seg_map_path``. Defaults to the training split.
        img_suffix (str): Suffix of images and labels. Defaults to '.png'.
        **kwargs: Everything else :class:`mmseg.datasets.BaseSegDataset`
            takes (``data_root``, ``pipeline``, ``test_mode``, ...).
            ``reduce_zero_label`` must stay False: 0 is "unchanged".
    """
    METAINFO = dict(
        classes=('unchanged', 'changed'), palette=[[0, 0, 0], [255, 255, 255]])

    def __init__(self,
                 data_prefix: dict = dict(
                     img_path_a='train/A',
                     img_path_b='train/B',
                     seg_map_path='train/label'),
                 img_suffix: str = '.png',
                 **kwargs) -> None:
        missing = {'img_path_a', 'img_path_b', 'seg_map_path'
                   } - set(data_prefix)
        if missing:
            raise KeyError(f'data_prefix {data_prefix} lacks '
                           f'{sorted(missing)}; LEVIRCDDataset needs the '
                           'folders of date A, date B and the labels')
        if kwargs.get('reduce_zero_label'):
            raise ValueError('LEVIRCDDataset needs reduce_zero_label=False: '
                             'label 0 is the "unchanged" class')
        super().__init__(
            data_prefix=data_prefix,
            img_suffix=img_suffix,
            seg_map_suffix=img_suffix,
            **kwargs)

    def _list_folder(self, key: str) -> List[str]:
        folder = self.data_prefix[key]
        if not fileio.isdir(folder, backend_args=self.backend_args):
            raise FileNotFoundError(
                f'{key} folder {folder} of {type(self).__name__} does not '
                'exist; expected the layout {split}/{A,B,label}/*.png')
        return sorted(
            fileio.list_dir_or_file(
                folder,
                list_dir=False,
                suffix=self.img_suffix,
                backend_args=self.backend_args))

    def load_data_list(self) -> List[dict]:
        dir_a = self.data_prefix['img_path_a']
        dir_b = self.data_prefix['img_path_b']
        dir_label = self.data_prefix['seg_map_path']
        names_a = self._list_folder('img_path_a')
        names_b = set(self._list_folder('img_path_b'))
        labels = set(self._list_folder('seg_map_path'))
        orphans = sorted(names_b - set(names_a))
        if orphans:
            raise FileNotFoundError(
                f'{osp.join(dir_b, orphans[0])} has no date-A partner: '
                f'{osp.join(dir_a, orphans[0])} is missing')
        data_list = []
        for name in names_a:
            path_a = osp.join(dir_a, name)
            if name not in names_b:
                raise FileNotFoundError(f'{path_a} has no date-B partner: '
                                        f'{osp.join(dir_b, name)} is missing')
            if name not in labels:
                raise FileNotFoundError(
                    f'{path_a} has no change label: '
                    f'{osp.join(dir_label, name)} is missing')
            path_b = osp.join(dir_b, name)
            data_list.append(
                dict(
                    img_path=path_b,
                    img_path_a=path_a,
                    img_path_b=path_b,
                    seg_map_path=osp.join(dir_label, name),
                    label_map=self.label_map,
                    reduce_zero_label=False,
                    seg_fields=[]))
        if not data_list:
            raise FileNotFoundError(f'no {self.img_suffix} images in {dir_a}')
        for info in tqdm(
                data_list,
                desc=f'checking the pairs of {dir_a}',
                unit='pair',
                leave=False,
                disable=None):  # no bar where stderr is not a terminal
            self._check_pair(info)
        return data_list

    def _image_size(self, path: str) -> Tuple[int, int]:
        """Width and height from the image's header, without decoding it."""
        content = fileio.get(path, backend_args=self.backend_args)
        try:
            with Image.open(io.BytesIO(content)) as image:
                return image.size
        except (UnidentifiedImageError, OSError) as error:
            raise ValueError(f'could not read the image {path} '
                             f'({len(content)} bytes): {error}') from error

    def _check_pair(self, info: dict) -> None:
        path_a, path_b = info['img_path_a'], info['img_path_b']
        size_a, size_b = self._image_size(path_a), self._image_size(path_b)
        if size_a != size_b:
            raise ValueError(
                'the dates of a pair differ in size: '
                f'{path_a} is {size_a[0]}x{size_a[1]}, {path_b} is '
                f'{size_b[0]}x{size_b[1]} (width x height)')
        path = info['seg_map_path']
        label = decode_image(
            fileio.get(path, backend_args=self.backend_args),
            path,
            flag='unchanged',
            backend='cv2')
        check_change_label(label, path)
        if label.shape[::-1] != size_a:
            raise ValueError(
                f'change label {path} is {label.shape[1]}x{label.shape[0]} '
                f'but its images are {size_a[0]}x{size_a[1]} (width x '
                'height)')
