"""make_synthetic_mri.py writes IXI's and fastMRI's layouts, seeded, with
images that have something to restore."""
import gzip
import re
import runpy
import xml.etree.ElementTree as ET

import h5py
import nibabel as nib
import numpy as np
import pytest
from mmzoo_testing import REPO

from mmzoo.datasets.transforms.kspace import (KSpaceDegrade, LoadIXISlice,
                                              bicubic_upsample)
from mmzoo.evaluation.functional import psnr

TOOL = f'{REPO}/tools/dataset_converters/make_synthetic_mri.py'
IXI_NAME = re.compile(r'IXI\d{3}-(Guys|HH|IOP)-\d{4}-T2\.nii\.gz')


@pytest.fixture(scope='module')
def main():
    return runpy.run_path(TOOL)['main']


def read_tree(root):
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob('*')) if p.is_file()
    }


def test_ixi_layout(synthetic_mri):
    # The fixture runs the tool as a user would, with its defaults.
    files = read_tree(synthetic_mri)
    counts = {}
    for name in files:
        split, base = name.split('/')
        assert IXI_NAME.fullmatch(base), name
        counts[split] = counts.get(split, 0) + 1
    assert counts == dict(train=8, val=2, test=2)
    first = sorted(synthetic_mri.glob('train/*.nii.gz'))[0]
    assert gzip.decompress(first.read_bytes())[344:348] == b'n+1\0'
    volume = nib.load(str(first))
    assert volume.get_data_dtype() == np.int16
    assert volume.shape == (64, 64, 20)
    # IXI's 240 x 240 x 156 mm field of view.
    assert volume.header.get_zooms() == pytest.approx((3.75, 3.75, 7.8))
    assert volume.header.get_xyzt_units()[0] == 'mm'
    np.testing.assert_allclose(
        np.abs(np.diag(volume.affine))[:3], (3.75, 3.75, 7.8))
    data = np.asarray(volume.dataobj, np.float64)
    middle = data[..., 10]
    # A head in the middle of the field of view, dark air around it.
    assert middle[:4].mean() < 0.02 * middle.max()
    assert middle[24:40, 24:40].mean() > 0.2 * middle.max()


def test_fastmri_layout_holds_fastmri_reconstructions(tmp_path, main):
    main([
        str(tmp_path), '--layout', 'fastmri', '--size', '32', '--slices', '3',
        '--num-train', '2', '--num-val', '1'
    ])
    names = sorted(read_tree(tmp_path))
    assert names == [
        'singlecoil_train/file1000001.h5', 'singlecoil_train/file1000002.h5',
        'singlecoil_val/file1000003.h5'
    ]
    with h5py.File(tmp_path / names[0], 'r') as f:
        kspace = f['kspace'][()]
        recon = f['reconstruction_esc'][()]
        assert kspace.dtype == np.complex64 and kspace.shape == (3, 64, 36)
        assert recon.dtype == np.float32 and recon.shape == (3, 32, 32)
        assert f['reconstruction_rss'].shape == recon.shape
        assert f.attrs['acquisition'] == 'CORPD_FBK'
        assert f.attrs['max'] == pytest.approx(recon.max())
        assert f.attrs['norm'] == pytest.approx(np.linalg.norm(recon))
        header = ET.fromstring(f['ismrmrd_header'][()])
    # fastMRI's definition: the magnitude of the centred orthonormal
    # inverse FFT of the k-space, cropped about the centre.
    image = np.abs(
        np.fft.fftshift(
            np.fft.ifft2(np.fft.ifftshift(kspace, axes=(1, 2))),
            axes=(1, 2))) * np.sqrt(64 * 36)
    np.testing.assert_allclose(recon, image[:, 16:48, 2:34], atol=1e-5)
    ns = {'m': 'http://www.ismrm.org/ISMRMRD'}
    matrix = header.find('m:encoding/m:encodedSpace/m:matrixSize', ns)
    assert (int(matrix.find('m:x',
                            ns).text), int(matrix.find('m:y',
                                                       ns).text)) == (64, 36)


def test_same_seed_same_bytes_and_volumes_differ(tmp_path, main):
    args = [
        '--size', '16', '--slices', '4', '--num-train', '2', '--num-val', '0',
        '--num-test', '0'
    ]
    for layout in ('ixi', 'fastmri'):
        trees = []
        for run, seed in enumerate((0, 0, 1)):
            out = tmp_path / f'{layout}{run}'
            main([str(out), '--layout', layout, '--seed', str(seed), *args])
            trees.append(read_tree(out))
        assert trees[0] == trees[1]
        assert list(trees[0].values()) != list(trees[2].values())
        first, second = trees[0].values()
        assert first != second


def test_sizes_the_scales_cannot_divide_are_refused(tmp_path, main):
    with pytest.raises(SystemExit):
        main([str(tmp_path / 'x'), '--size', '20'])


def test_phantoms_have_detail_to_restore(synthetic_mri):
    """Edges beyond the x2 band and aliasing from the official 6X mask: the
    bicubic upsampled images fall well short of the truth."""
    path = str(sorted(synthetic_mri.glob('test/*.nii.gz'))[0])
    gts, lrs, zfs = [], [], []
    for index in (6, 10, 14):
        results = KSpaceDegrade(
            scale=2, normalize=False)(
                LoadIXISlice()(dict(img_path=path, slice_index=index)))
        gts.append(results['gt_hr'])
        lrs.append(bicubic_upsample(results['gt_lr'], 2))
        zfs.append(bicubic_upsample(results['zero_filled'], 2))
    full_lr = psnr(np.stack(gts), np.stack(lrs))
    zero_filled = psnr(np.stack(gts), np.stack(zfs))
    assert full_lr < 32
    assert zero_filled < full_lr - 2
