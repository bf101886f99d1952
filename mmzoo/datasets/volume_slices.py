"""A dataset of 2D slices taken from a folder of 3D volumes."""
import os.path as osp
from typing import List, Optional, Tuple

import mmengine.fileio as fileio
from mmengine.dataset import BaseDataset


class VolumeSliceDataset(BaseDataset):
    """Slices of the volumes in one folder, one data info per slice.

    Subclasses name the volume files (``suffix``) and read a volume's
    header (:meth:`read_header`); this class scans the folder, keeps the
    volumes an ``ann_file`` lists and expands each into its slices. Each data
    info carries ``img_path``, ``slice_index``, ``volume_id`` (the file name
    without the suffix's extension) and ``voxel_size`` (mm).

    Args:
        ann_file (str): Optional text file under ``data_root`` naming the
            split's volumes, one per line (file name or volume id); empty
            for every volume in the folder. Defaults to ''.
        data_prefix (dict): ``img_path``: the folder of volumes under
            ``data_root``.
        slice_range (tuple[int], optional): ``(start, stop)`` of the slices
            taken; None for all of a volume's slices. A range that does not
            fit in a volume is an error naming the file.
        slice_step (int): Step through the range; its last slice
            (``stop - 1``) is always taken too. Defaults to 1.
        **kwargs: Everything else ``mmengine.dataset.BaseDataset`` takes.
    """
    suffix = ''
    extension = ''

    def __init__(self,
                 ann_file: str = '',
                 data_prefix: dict = dict(img_path=''),
                 slice_range: Optional[Tuple[int, int]] = None,
                 slice_step: int = 1,
                 **kwargs) -> None:
        if slice_range is not None and not (0 <= slice_range[0] <
                                            slice_range[1]):
            raise ValueError(f'slice_range {slice_range} must be (start, '
                             'stop) with 0 <= start < stop')
        if slice_step < 1:
            raise ValueError(f'slice_step must be >= 1, got {slice_step}')
        self.slice_range = slice_range
        self.slice_step = slice_step
        super().__init__(ann_file=ann_file, data_prefix=data_prefix, **kwargs)

    def read_header(self, path: str) -> Tuple[int, Tuple[float, ...]]:
        """The number of slices and the voxel size (mm) of a volume, checking
        what the loader will need."""
        raise NotImplementedError

    def slice_indices(self, path: str, num_slices: int) -> List[int]:
        if self.slice_range is None:
            return list(range(num_slices))
        start, stop = self.slice_range
        if stop > num_slices:
            raise ValueError(f'{path}: slice_range {tuple(self.slice_range)} '
                             f'is outside the volume of {num_slices} slices')
        indices = list(range(start, stop, self.slice_step))
        if indices[-1] != stop - 1:
            indices.append(stop - 1)
        return indices

    def _volume_names(self, folder: str) -> List[str]:
        if not fileio.isdir(folder):
            raise FileNotFoundError(
                f'volume folder {folder} of {type(self).__name__} does not '
                'exist')
        names = sorted(
            fileio.list_dir_or_file(
                folder, list_dir=False, suffix=self.suffix))
        if not self.ann_file:
            return names
        wanted = fileio.get_text(self.ann_file).split()
        by_id = {self.volume_id(name): name for name in names}
        missing = [
            name for name in wanted if name not in names and name not in by_id
        ]
        if missing:
            raise FileNotFoundError(
                f'{self.ann_file} lists {missing[:3]} (of {len(missing)}) '
                f'that are not in {folder}')
        return [name if name in names else by_id[name] for name in wanted]

    def volume_id(self, name: str) -> str:
        return name[:-len(self.extension)]

    def load_data_list(self) -> List[dict]:
        folder = self.data_prefix['img_path']
        data_list = []
        for name in self._volume_names(folder):
            path = osp.join(folder, name)
            num_slices, voxel_size = self.read_header(path)
            for index in self.slice_indices(path, num_slices):
                data_list.append(
                    dict(
                        img_path=path,
                        slice_index=index,
                        volume_id=self.volume_id(name),
                        voxel_size=voxel_size))
        if not data_list:
            raise FileNotFoundError(f'no *{self.suffix} volumes in {folder}')
        return data_list
