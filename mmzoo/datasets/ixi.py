"""IXI T2-weighted brain volumes, as T2Net (MICCAI 2021) uses them."""
from typing import Tuple

import nibabel as nib
from nibabel.filebasedimages import ImageFileError

from mmzoo.registry import DATASETS
from .volume_slices import VolumeSliceDataset


@DATASETS.register_module()
class IXIDataset(VolumeSliceDataset):
    """Axial slices of the IXI T2 volumes as released (``*-T2.nii.gz``).

    .. code-block:: none

        data_root/{train,val,test}/IXI002-Guys-0828-T2.nii.gz

    (or one folder and per-split ``ann_file`` lists). The defaults take the
    official T2Net slices, 20, 25, ..., 115 and 119
    (github chunmeifeng/T2Net, ``fastmri/mri_ixi_t2net.py``), which needs
    volumes of at least 120 slices; the official code silently skips
    shorter ones, here they are an error naming the file. Volumes are read
    with nibabel; ``LoadIXISlice`` loads a slice. ``voxel_size`` is the
    header's (x, y, z) spacing in mm.

    Args:
        data_prefix (dict): ``img_path``: the folder of volumes. Defaults to
            'train'.
        slice_range (tuple[int]): Defaults to (20, 120), as official.
        slice_step (int): Defaults to 5, as official.
        **kwargs: :class:`VolumeSliceDataset`'s other arguments.
    """
    suffix = '-T2.nii.gz'
    extension = '.nii.gz'

    def __init__(self,
                 data_prefix: dict = dict(img_path='train'),
                 slice_range: Tuple[int, int] = (20, 120),
                 slice_step: int = 5,
                 **kwargs) -> None:
        super().__init__(
            data_prefix=data_prefix,
            slice_range=slice_range,
            slice_step=slice_step,
            **kwargs)

    def read_header(self, path: str) -> Tuple[int, Tuple[float, ...]]:
        try:
            header = nib.load(path).header
        except (ImageFileError, OSError, EOFError) as error:
            raise ValueError(f'{path} is not a readable NIfTI volume: '
                             f'{error}') from error
        shape = header.get_data_shape()
        if len(shape) != 3:
            raise ValueError(f'{path}: expected a 3D volume, got shape '
                             f'{tuple(shape)}')
        return shape[2], tuple(float(z) for z in header.get_zooms()[:3])
