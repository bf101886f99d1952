"""tools/infer_mri.py on a NIfTI volume and a fastMRI-style .h5 file, with a
randomly initialised T2Net saved as a checkpoint; the model run by hand on each
slice is the reference, and bad files are refused by name."""
import runpy

import h5py
import nibabel as nib
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmzoo_testing import REPO, run_tool

from mmzoo.datasets.transforms.kspace import to_kspace
from mmzoo.registry import MODELS

TOOL = f'{REPO}/tools/infer_mri.py'
CONFIG = (f'{REPO}/configs/t2net/'
          't2net_edsr-c32b2_1xb8-600iter_synthixi-64x64.py')


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory):
    path = tmp_path_factory.mktemp('ckpt') / 't2net.pth'
    torch.manual_seed(0)
    model = MODELS.build(Config.fromfile(CONFIG).model).eval()
    torch.save({'state_dict': model.state_dict()}, path)
    return path, model


def by_hand(model, image):
    """The model on one slice standardised by its own statistics."""
    mean, std = image.mean(), image.std() + 1e-11
    with torch.no_grad():
        sr, _ = model(torch.from_numpy((image - mean) / std)[None, None])
    return sr[0, 0].numpy() * std + mean


@pytest.mark.default_scope('mmzoo')
def test_nifti_and_h5(checkpoint, tmp_path):
    path, model = checkpoint
    rng = np.random.default_rng(0)
    volume = rng.random((12, 10, 3), dtype=np.float32) * 100
    affine = np.array([[0.9, 0, 0, -50], [0, 0.8, 0, 20], [0, 0, 1.2, 7],
                       [0, 0, 0, 1]])
    nib.save(nib.Nifti1Image(volume, affine), tmp_path / 'lr.nii.gz')
    result = run_tool(TOOL, CONFIG, path, tmp_path / 'lr.nii.gz',
                      tmp_path / 'out')
    assert 'Restored 3 slice(s)' in result.stdout
    sr = nib.load(tmp_path / 'out' / 'lr_sr.nii.gz')
    assert sr.shape == (24, 20, 3)
    expected_affine = affine.copy()
    expected_affine[:3, :2] /= 2
    np.testing.assert_allclose(sr.affine, expected_affine)
    assert nib.load(tmp_path / 'out' / 'lr_recon.nii.gz').shape == (12, 10, 3)
    # Slice k goes through the model as the IXI loader orients it, and the
    # output is turned back into the input's layout.
    for k in range(3):
        expected = np.rot90(
            by_hand(model,
                    np.rot90(volume[:, :, k]).copy()), -1)
        np.testing.assert_allclose(
            np.asarray(sr.dataobj)[:, :, k], expected, rtol=1e-4, atol=1e-3)
    panels = sorted(p.name for p in (tmp_path / 'out' / 'panels').iterdir())
    assert panels == [f'lr_slice00{k}.png' for k in range(3)]

    # The k-space of known images: the model must see those images.
    images = rng.random((2, 8, 6)).astype(np.float32) * 50
    kspace = to_kspace(images).astype(np.complex64)
    with h5py.File(tmp_path / 'knee.h5', 'w') as f:
        f['kspace'] = kspace
    run_tool(TOOL, CONFIG, path, tmp_path / 'knee.h5', tmp_path / 'out2',
             '--no-panels')
    sr = nib.load(tmp_path / 'out2' / 'knee_sr.nii.gz')
    assert sr.shape == (16, 12, 2)
    np.testing.assert_allclose(np.diag(sr.affine), [0.5, 0.5, 1, 1])
    np.testing.assert_allclose(
        np.asarray(sr.dataobj)[:, :, 1],
        by_hand(model, images[1]),
        rtol=1e-4,
        atol=1e-3)
    assert not (tmp_path / 'out2' / 'panels').exists()


def test_bad_inputs_are_named(checkpoint, tmp_path):
    path, _ = checkpoint
    nib.save(
        nib.Nifti1Image(np.zeros((4, 4), np.float32), np.eye(4)),
        tmp_path / 'flat.nii.gz')
    with h5py.File(tmp_path / 'real.h5', 'w') as f:
        f['kspace'] = np.zeros((1, 4, 4), np.float32)
    (tmp_path / 'slice.png').write_bytes(b'not an MRI volume')
    main = runpy.run_path(TOOL)['main']
    for name, message in (('flat.nii.gz', 'expected a 3-D volume'),
                          ('real.h5', 'kspace must be complex'),
                          ('slice.png', 'neither a NIfTI volume')):
        with pytest.raises(SystemExit) as exit:
            main([CONFIG, str(path), str(tmp_path / name), str(tmp_path)])
        assert message in str(exit.value.code), exit.value.code
        assert str(tmp_path / name) in str(exit.value.code)
