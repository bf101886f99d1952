"""FastMRIDataset and LoadFastMRISlice on files in fastMRI's single-coil
layout, and clear errors for files they cannot use."""
import os.path as osp

import h5py
import numpy as np
import pytest
from mmengine.config import Config
from mmzoo_testing import REPO

from mmzoo.datasets import FastMRIDataset
from mmzoo.datasets.transforms.kspace import LoadFastMRISlice
from mmzoo.registry import DATASETS

HEADER = (b'<?xml version="1.0"?><ismrmrdHeader '
          b'xmlns="http://www.ismrm.org/ISMRMRD"><encoding><reconSpace>'
          b'<matrixSize><x>8</x><y>8</y><z>1</z></matrixSize>'
          b'<fieldOfView_mm><x>140</x><y>140</y><z>3</z></fieldOfView_mm>'
          b'</reconSpace></encoding></ismrmrdHeader>')


def write_file(path, kspace, recon_shape=(8, 8), header=HEADER):
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, 'w') as f:
        f['kspace'] = kspace
        if recon_shape is not None:
            f['reconstruction_esc'] = np.zeros((kspace.shape[0], *recon_shape),
                                               np.float32)
        f['ismrmrd_header'] = header
    return str(path)


def random_kspace(slices=3, rows=16, cols=10, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(slices, rows, cols)) +
            1j * rng.normal(size=(slices, rows, cols))).astype(np.complex64)


def test_data_infos_and_voxel_size(tmp_path):
    write_file(tmp_path / 'singlecoil_train' / 'file1000002.h5',
               random_kspace(4))
    write_file(tmp_path / 'singlecoil_train' / 'file1000001.h5',
               random_kspace(3))
    dataset = FastMRIDataset(data_root=str(tmp_path))
    infos = [dataset.get_data_info(i) for i in range(len(dataset))]
    assert [(i['volume_id'], i['slice_index']) for i in infos
            ] == [('file1000001', s) for s in range(3)] + [('file1000002', s)
                                                           for s in range(4)]
    # 140 mm over 8 pixels in plane, 3 mm slices.
    assert infos[0]['voxel_size'] == pytest.approx((17.5, 17.5, 3.0))
    assert len(FastMRIDataset(data_root=str(tmp_path),
                              slice_range=(1, 3))) == 4


def test_loaded_image_is_fastmri_centred_inverse_fft_cropped(tmp_path):
    kspace = random_kspace(2, 16, 10)
    path = write_file(tmp_path / 'f.h5', kspace, recon_shape=(8, 6))
    image = LoadFastMRISlice()(dict(img_path=path, slice_index=1))['img']
    # fastMRI's ifft2c (fastmri/fftc.py): ifftshift, orthonormal inverse
    # FFT, fftshift; then the magnitude, cropped about the centre.
    full = np.abs(
        np.fft.fftshift(
            np.fft.ifft2(np.fft.ifftshift(kspace[1])) * np.sqrt(16 * 10)))
    np.testing.assert_allclose(image, full[4:12, 2:8], rtol=1e-5)
    assert image.dtype == np.float32


def test_real_kspace_is_refused_naming_the_file(tmp_path):
    path = write_file(tmp_path / 'singlecoil_train' / 'file1.h5',
                      np.abs(random_kspace()))
    with pytest.raises(TypeError, match=f'{path}: kspace must be complex'):
        FastMRIDataset(data_root=str(tmp_path))
    with pytest.raises(TypeError, match=f'{path}: kspace must be complex'):
        LoadFastMRISlice()(dict(img_path=path, slice_index=0))


def test_kspace_of_wrong_rank_is_refused_naming_the_file(tmp_path):
    path = write_file(tmp_path / 'singlecoil_train' / 'file1.h5',
                      random_kspace()[0])
    with pytest.raises(ValueError, match=f'{path}: kspace must be'):
        FastMRIDataset(data_root=str(tmp_path))


def test_slice_range_outside_the_volume_is_refused_naming_the_file(tmp_path):
    path = write_file(tmp_path / 'singlecoil_train' / 'file1.h5',
                      random_kspace(3))
    with pytest.raises(ValueError, match=f'{path}: slice_range'):
        FastMRIDataset(data_root=str(tmp_path), slice_range=(0, 5))
    with pytest.raises(IndexError, match=f'{path}: slice 3'):
        LoadFastMRISlice()(dict(img_path=path, slice_index=3))


def test_file_without_reconstruction_is_refused_naming_it(tmp_path):
    path = write_file(
        tmp_path / 'singlecoil_train' / 'file1.h5',
        random_kspace(),
        recon_shape=None)
    with pytest.raises(KeyError, match=f'{path} has no .reconstruction_esc'):
        FastMRIDataset(data_root=str(tmp_path))


@pytest.mark.default_scope('mmzoo')
def test_fastmri_config_reads_the_val_split(tmp_path):
    write_file(tmp_path / 'singlecoil_val' / 'file1000003.h5',
               random_kspace(2))
    cfg = Config.fromfile(
        osp.join(REPO, 'configs/_base_/datasets/fastmri_knee_x2.py'))
    cfg.test_dataloader.dataset.data_root = str(tmp_path)
    dataset = DATASETS.build(cfg.test_dataloader.dataset)
    assert len(dataset) == 2
    sample = dataset[1]['data_samples']
    assert sample.gt_hr.shape == (1, 8, 8)
    assert sample.zero_filled.shape == (1, 4, 4)
    assert (sample.volume_id, sample.slice_index) == ('file1000003', 1)
