"""fastMRI single-coil knee files (Zbontar et al., arXiv:1811.08839)."""
import xml.etree.ElementTree as ET
from typing import Tuple

import h5py
import numpy as np

from mmzoo.registry import DATASETS
from .volume_slices import VolumeSliceDataset

ISMRMRD_NS = {'m': 'http://www.ismrm.org/ISMRMRD'}


def recon_voxel_size(path: str, header: bytes) -> Tuple[float, ...]:
    """(x, y, z) voxel size in mm of the reconstruction space an ISMRMRD XML
    header describes."""
    try:
        space = ET.fromstring(header).find('m:encoding/m:reconSpace',
                                           ISMRMRD_NS)
        sizes = [
            float(space.find(f'm:fieldOfView_mm/m:{axis}', ISMRMRD_NS).text) /
            float(space.find(f'm:matrixSize/m:{axis}', ISMRMRD_NS).text)
            for axis in 'xyz'
        ]
    except (ET.ParseError, AttributeError, TypeError, ValueError) as error:
        raise ValueError(f'{path}: ismrmrd_header has no readable '
                         f'encoding/reconSpace ({error})') from error
    return tuple(sizes)


@DATASETS.register_module()
class FastMRIDataset(VolumeSliceDataset):
    """Slices of fastMRI single-coil files (``.h5`` as released).

    .. code-block:: none

        data_root/singlecoil_{train,val}/file1000001.h5

    Each file holds ``kspace`` (slices, rows, cols) complex64,
    ``reconstruction_esc`` (slices, 320, 320) and the XML
    ``ismrmrd_header``; ``LoadFastMRISlice`` makes a slice's image from its
    k-space, cropped to ``reconstruction_esc``'s size. A file whose k-space
    is not complex or not 3D, or that lacks the reconstruction, is an error
    naming it (the challenge's test files carry no reconstruction).
    ``voxel_size`` is the reconstruction space's (x, y, z) spacing in mm.

    Args:
        data_prefix (dict): ``img_path``: the folder of files. Defaults to
            'singlecoil_train'.
        **kwargs: :class:`VolumeSliceDataset`'s other arguments (all slices
            by default).
    """
    suffix = '.h5'
    extension = '.h5'

    def __init__(self,
                 data_prefix: dict = dict(img_path='singlecoil_train'),
                 **kwargs) -> None:
        super().__init__(data_prefix=data_prefix, **kwargs)

    def read_header(self, path: str) -> Tuple[int, Tuple[float, ...]]:
        try:
            f = h5py.File(path, 'r')
        except OSError as error:
            raise ValueError(f'{path} is not a readable HDF5 file: '
                             f'{error}') from error
        with f:
            for key in ('kspace', 'reconstruction_esc', 'ismrmrd_header'):
                if key not in f:
                    raise KeyError(f'{path} has no {key!r}; expected a '
                                   'fastMRI single-coil file')
            kspace = f['kspace']
            if not np.issubdtype(kspace.dtype, np.complexfloating):
                raise TypeError(f'{path}: kspace must be complex, got '
                                f'{kspace.dtype}')
            if kspace.ndim != 3:
                raise ValueError(f'{path}: kspace must be (slices, rows, '
                                 f'cols), got shape {kspace.shape}')
            if f['reconstruction_esc'].shape[0] != kspace.shape[0]:
                raise ValueError(
                    f'{path}: reconstruction_esc has '
                    f'{f["reconstruction_esc"].shape[0]} slices, kspace '
                    f'{kspace.shape[0]}')
            header = f['ismrmrd_header'][()]
            return kspace.shape[0], recon_voxel_size(path, header)
