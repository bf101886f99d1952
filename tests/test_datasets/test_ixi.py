"""IXIDataset: the official T2Net slices of IXI T2 volumes, one data info per
slice, and clear errors for volumes it cannot use."""
import os.path as osp

import nibabel as nib
import numpy as np
import pytest
from mmengine.config import Config
from mmzoo_testing import REPO

from mmzoo.datasets import IXIDataset
from mmzoo.registry import DATASETS

pytestmark = pytest.mark.default_scope('mmzoo')

# github chunmeifeng/T2Net, fastmri/mri_ixi_t2net.py: the slices taken from
# every volume of at least 120 slices.
OFFICIAL_SLICES = [
    20, 25, 30, 35, 40, 45, 50, 55, 60, 65, 70, 75, 80, 85, 90, 95, 100, 105,
    110, 115, 119
]


def write_volume(folder, name, shape, zooms=(0.9375, 0.9375, 1.2)):
    folder.mkdir(parents=True, exist_ok=True)
    image = nib.Nifti1Image(np.zeros(shape, np.int16), np.diag([*zooms, 1]))
    path = folder / name
    nib.save(image, str(path))
    return str(path)


def test_official_slices_and_data_infos(tmp_path):
    write_volume(tmp_path / 'train', 'IXI002-Guys-0828-T2.nii.gz', (8, 8, 130))
    write_volume(tmp_path / 'train', 'IXI012-HH-1211-T2.nii.gz', (8, 8, 120),
                 (1.0, 0.9, 1.5))
    # Other IXI contrasts in the folder are not T2 volumes.
    write_volume(tmp_path / 'train', 'IXI002-Guys-0828-PD.nii.gz', (8, 8, 130))
    dataset = IXIDataset(data_root=str(tmp_path), lazy_init=False)
    assert len(dataset) == 2 * len(OFFICIAL_SLICES)
    infos = [dataset.get_data_info(i) for i in range(len(dataset))]
    first = [info for info in infos if info['volume_id'].startswith('IXI002')]
    assert [info['slice_index'] for info in first] == OFFICIAL_SLICES
    assert first[0]['volume_id'] == 'IXI002-Guys-0828-T2'
    assert first[0]['img_path'] == osp.join(
        str(tmp_path), 'train', 'IXI002-Guys-0828-T2.nii.gz')
    other = [info for info in infos if info['volume_id'].startswith('IXI012')]
    assert other[0]['voxel_size'] == pytest.approx((1.0, 0.9, 1.5))


def test_ann_file_selects_the_split(tmp_path):
    for name in ('IXI001-HH-0001-T2.nii.gz', 'IXI002-HH-0002-T2.nii.gz',
                 'IXI003-IOP-0003-T2.nii.gz'):
        write_volume(tmp_path / 'all', name, (4, 4, 10))
    (tmp_path /
     'val.txt').write_text('IXI003-IOP-0003-T2\nIXI001-HH-0001-T2.nii.gz\n')
    dataset = IXIDataset(
        data_root=str(tmp_path),
        data_prefix=dict(img_path='all'),
        ann_file='val.txt',
        slice_range=(2, 8),
        slice_step=3)
    ids = [dataset.get_data_info(i)['volume_id'] for i in range(len(dataset))]
    assert ids == ['IXI003-IOP-0003-T2'] * 3 + ['IXI001-HH-0001-T2'] * 3
    assert [dataset.get_data_info(i)['slice_index']
            for i in range(3)] == [2, 5, 7]
    (tmp_path / 'test.txt').write_text('IXI009-HH-0009-T2\n')
    with pytest.raises(FileNotFoundError, match='test.txt lists'):
        IXIDataset(
            data_root=str(tmp_path),
            data_prefix=dict(img_path='all'),
            ann_file='test.txt')


def test_volume_of_wrong_rank_is_refused_naming_it(tmp_path):
    path = write_volume(tmp_path / 'train', 'IXI005-HH-0005-T2.nii.gz',
                        (8, 8, 130, 2))
    with pytest.raises(ValueError, match=f'{path}: expected a 3D volume'):
        IXIDataset(data_root=str(tmp_path))


def test_slice_range_outside_the_volume_is_refused_naming_it(tmp_path):
    path = write_volume(tmp_path / 'train', 'IXI006-HH-0006-T2.nii.gz',
                        (8, 8, 100))
    with pytest.raises(
            ValueError,
            match=f'{path}: slice_range .20, 120. '
            'is outside the volume of 100 slices'):
        IXIDataset(data_root=str(tmp_path))


def test_unreadable_file_is_refused_naming_it(tmp_path):
    path = tmp_path / 'train' / 'IXI007-HH-0007-T2.nii.gz'
    path.parent.mkdir()
    path.write_bytes(b'not a volume')
    with pytest.raises(ValueError, match=f'{path} is not a readable NIfTI'):
        IXIDataset(data_root=str(tmp_path))


def test_synthetic_config_reads_the_generated_volumes(synthetic_mri):
    cfg = Config.fromfile(
        osp.join(REPO, 'configs/_base_/datasets/synthetic_ixi.py'))
    sizes = {}
    for split in ('train', 'val', 'test'):
        dataset_cfg = cfg[f'{split}_dataloader'].dataset
        dataset_cfg.data_root = str(synthetic_mri)
        sizes[split] = len(DATASETS.build(dataset_cfg))
    # Six slices of each of 8/2/2 volumes.
    assert sizes == dict(train=48, val=12, test=12)
    cfg.test_dataloader.dataset.data_root = str(synthetic_mri)
    item = DATASETS.build(cfg.test_dataloader.dataset)[0]
    sample = item['data_samples']
    assert item['inputs'].shape == (1, 32, 32)
    assert sample.gt_hr.shape == (1, 64, 64)
    assert sample.voxel_size == pytest.approx((3.75, 3.75, 7.8))
    # The brain is brighter than the background after standardising.
    assert sample.gt_hr.max() > 1 and sample.gt_hr.min() < 0


@pytest.mark.parametrize('config,scale', [('ixi_t2_x2.py', 2),
                                          ('ixi_t2_x4.py', 4)])
def test_ixi_configs_degrade_at_their_scale(tmp_path, config, scale):
    path = write_volume(tmp_path / 'test', 'IXI002-Guys-0828-T2.nii.gz',
                        (16, 16, 120))
    cfg = Config.fromfile(osp.join(REPO, 'configs/_base_/datasets', config))
    cfg.test_dataloader.dataset.data_root = str(tmp_path)
    dataset = DATASETS.build(cfg.test_dataloader.dataset)
    assert len(dataset) == len(OFFICIAL_SLICES)
    item = dataset[0]
    assert item['inputs'].shape == (1, 16 // scale, 16 // scale)
    assert item['data_samples'].scale == scale
    assert item['data_samples'].img_path == path
