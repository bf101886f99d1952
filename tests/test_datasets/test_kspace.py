"""K-space degradation: exact on band-limited images, masks with fastMRI's
semantics and the official mask's statistics, T2Net's packing."""
import nibabel as nib
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy.io import savemat

from mmzoo.datasets.transforms.kspace import (MASK_PRESETS, KSpaceDegrade,
                                              LoadIXISlice, PackMRIInputs,
                                              bicubic_upsample, cartesian_mask,
                                              crop_kspace, to_image, to_kspace)

# Columns kept by the official mask file 1D-Cartesian_6X_128128.mat
# (github chunmeifeng/T2Net), read from the file: 38 of 128, 54-73 the
# fully sampled centre.
OFFICIAL_6X_COLUMNS = [
    5, 10, 27, 30, 35, 39, *range(54, 74), 84, 89, 95, 96, 101, 104, 107, 109,
    111, 118, 120, 121
]


def band_limited(rows, cols, scale, seed=0, terms=6, max_freq=None):
    """A positive image made of cosines whose frequencies lie strictly below
    the Nyquist frequency of the grid ``scale`` times coarser (or up to
    ``max_freq``), and the closed form of its samples on that grid."""
    rng = np.random.default_rng(seed)
    top_k = max_freq or rows // scale // 2 - 1
    top_l = max_freq or cols // scale // 2 - 1
    ks = rng.integers(-top_k, top_k + 1, terms)
    ls = rng.integers(-top_l, top_l + 1, terms)
    amps, phases = rng.uniform(0.1, 1, terms), rng.uniform(0, 6.3, terms)

    def at(m, n):
        value = np.full(np.broadcast(m, n).shape, amps.sum() + 1.0)
        for k, l, a, p in zip(ks, ls, amps, phases):
            value += a * np.cos(2 * np.pi * (k * m / rows + l * n / cols) + p)
        return value

    m, n = np.mgrid[:rows, :cols]
    hr = at(m, n)
    m, n = np.mgrid[:rows // scale, :cols // scale]
    return hr, at(scale * m, scale * n)


@pytest.mark.parametrize('scale', [2, 4])
def test_centre_kspace_crop_of_band_limited_image_is_its_downsampling(scale):
    hr, lr = band_limited(48, 40, scale)
    crop = crop_kspace(to_kspace(hr), (48 // scale, 40 // scale))
    np.testing.assert_allclose(to_image(crop), lr, atol=1e-9)
    results = KSpaceDegrade(
        scale=scale,
        mask=dict(sampling_rate=1.0, center_fraction=0.0),
        normalize=False)(
            dict(img=hr.astype(np.float32)))
    np.testing.assert_allclose(results['gt_hr'], hr, rtol=1e-6)
    np.testing.assert_allclose(results['gt_lr'], lr, rtol=1e-5)
    # Every column kept: zero filling changes nothing.
    np.testing.assert_allclose(results['zero_filled'], lr, rtol=1e-5)


def test_mask_drops_whole_kspace_columns():
    # A pattern varying along the columns (horizontal frequency 3): its
    # energy lies in k-space columns DC +- 3 only.
    cols = np.arange(32)
    image = 2 + np.cos(2 * np.pi * 3 * cols / 32)[None].repeat(32, 0)
    degrade = KSpaceDegrade(
        scale=2,
        mask=dict(sampling_rate=4 / 16, center_fraction=1 / 16),
        normalize=False)
    lr_shape = (16, 16)
    mask = degrade.column_mask(lr_shape)
    results = degrade(dict(img=image))
    expected = np.zeros(lr_shape, complex)
    expected += 2  # the DC column is the centre, always kept
    for sign in (1, -1):
        if mask[8 + sign * 3]:
            expected += 0.5 * np.exp(
                sign * 2j * np.pi * 3 * np.arange(16) / 16)[None]
    np.testing.assert_allclose(
        results['zero_filled'], np.abs(expected), atol=1e-6)


def fastmri_random_mask(num_cols, center_fraction, acceleration, rng):
    """fastMRI's RandomMaskFunc, its logic as in github
    facebookresearch/fastMRI, fastmri/data/subsample.py
    (RandomMaskFunc.__call__ with one center fraction and acceleration)."""
    num_low_freqs = int(round(num_cols * center_fraction))
    prob = (num_cols / acceleration - num_low_freqs) / (
        num_cols - num_low_freqs)
    mask = rng.uniform(size=num_cols) < prob
    pad = (num_cols - num_low_freqs + 1) // 2
    mask[pad:pad + num_low_freqs] = True
    return mask


@pytest.mark.parametrize('num_cols,center_fraction,acceleration',
                         [(128, 20 / 128, 128 / 38), (368, 0.08, 4),
                          (160, 0.04, 8), (63, 0.1, 3),
                          (32, 20 / 128, 128 / 38)])
def test_cartesian_mask_has_fastmri_random_mask_semantics(
        num_cols, center_fraction, acceleration):
    draws = 600
    rng = np.random.RandomState(0)
    theirs = np.stack([
        fastmri_random_mask(num_cols, center_fraction, acceleration, rng)
        for _ in range(draws)
    ])
    ours = np.stack([
        cartesian_mask(num_cols, 1 / acceleration, center_fraction, seed)
        for seed in range(draws)
    ])
    # The same fully sampled centre.
    always = theirs.all(0)
    np.testing.assert_array_equal(ours.all(0), always)
    # Every other column kept with fastMRI's probability (the frequencies
    # of both within 5 standard errors of it) ...
    num_center = int(always.sum())
    prob = (num_cols / acceleration - num_center) / (num_cols - num_center)
    tolerance = 5 * np.sqrt(prob * (1 - prob) / draws)
    for masks in (ours, theirs):
        assert np.abs(masks[:, ~always].mean(0) - prob).max() < tolerance
    # ... and as many columns as fastMRI keeps on average, every time.
    assert (ours.sum(1) == round(num_cols / acceleration)).all()
    assert abs(theirs.sum(1).mean() - num_cols / acceleration) < 5 * np.sqrt(
        prob * (1 - prob) * (num_cols - num_center) / draws)


def test_official_6x_preset_reproduces_the_official_mask_statistics():
    official = np.zeros(128, bool)
    official[OFFICIAL_6X_COLUMNS] = True
    preset = MASK_PRESETS['official_6x']
    masks = np.stack(
        [cartesian_mask(128, rng=seed, **preset) for seed in range(400)])
    # The same 20 central columns, always kept, and 38 columns in all, as
    # the file has.
    assert masks[:, 54:74].all() and official[54:74].all()
    assert not masks[:, [53, 74]].all(0).any()
    assert (masks.sum(1) == official.sum()).all()
    # At other widths the same fractions: 29.7% of the columns, 15.6% the
    # centre.
    for width, kept, centre in ((64, 19, 10), (32, 10, 5), (160, 48, 25)):
        mask = cartesian_mask(width, rng=0, **preset)
        start = (width - centre + 1) // 2
        assert mask.sum() == kept and mask[start:start + centre].all()


def test_official_mask_file_is_read(tmp_path):
    mask = np.zeros((128, 128))
    mask[:, OFFICIAL_6X_COLUMNS] = 1
    path = str(tmp_path / '1D-Cartesian_6X_128128.mat')
    savemat(path, dict(mask=mask))
    degrade = KSpaceDegrade(scale=2, mask=path)
    np.testing.assert_array_equal(
        degrade.column_mask((128, 128)), mask[0].astype(bool))
    with pytest.raises(ValueError, match='1D-Cartesian_6X_128128.mat is'):
        KSpaceDegrade(scale=4, mask=path)(dict(img=np.ones((256, 256))))
    mask[3, 5] = 0
    savemat(path, dict(mask=mask))
    with pytest.raises(ValueError, match='not 1D Cartesian'):
        KSpaceDegrade(scale=2, mask=path).column_mask((128, 128))


def test_bicubic_upsample_keeps_samples_and_interpolates_with_keys_kernel():
    rng = np.random.default_rng(0)
    lr = rng.uniform(size=(2, 10, 12)).astype(np.float32)
    up = bicubic_upsample(lr, 2)
    assert up.shape == (2, 20, 24)
    np.testing.assert_allclose(up[:, ::2, ::2], lr, atol=1e-6)
    # Halfway between samples along a row, the cubic convolution kernel
    # (a = -0.75) weighs the neighbours 0.59375 and -0.09375 (hand-worked:
    # W(1/2) = (a+2)/8 - (a+3)/4 + 1, W(3/2) = a/8); the image wraps.
    expected = (0.59375 * (lr + np.roll(lr, -1, 2)) - 0.09375 *
                (np.roll(lr, 1, 2) + np.roll(lr, -2, 2)))
    np.testing.assert_allclose(up[:, ::2, 1::2], expected, atol=1e-5)


def test_bicubic_upsample_is_aligned_with_the_kspace_grid():
    # Smooth content, where cubic interpolation is accurate and a
    # half-pixel shift is not.
    hr, lr = band_limited(64, 64, 2, seed=0, terms=4, max_freq=3)
    ours = bicubic_upsample(lr, 2)
    shifted = F.interpolate(
        torch.from_numpy(lr)[None, None],
        scale_factor=2,
        mode='bicubic',
        align_corners=False)[0, 0].numpy()
    error = np.abs(ours - hr).mean()
    assert error < 0.2 * np.abs(shifted - hr).mean()


def test_degrade_normalises_with_the_slice_statistics():
    image = np.random.default_rng(1).uniform(0, 100, (16, 16))
    results = KSpaceDegrade(scale=2)(dict(img=image.astype(np.float32)))
    assert results['norm_mean'] == pytest.approx(image.mean(), rel=1e-6)
    assert results['norm_std'] == pytest.approx(image.std(), rel=1e-6)
    np.testing.assert_allclose(
        results['gt_hr'] * results['norm_std'] + results['norm_mean'],
        image,
        rtol=1e-5)
    plain = KSpaceDegrade(scale=2, normalize=False)(dict(img=image))
    np.testing.assert_allclose(
        results['zero_filled'] * results['norm_std'] + results['norm_mean'],
        plain['zero_filled'],
        rtol=1e-4)
    assert results['gt_lr'].dtype == np.float32
    assert results['gt_lr'].shape == results['zero_filled'].shape == (8, 8)


def test_pack_mri_inputs():
    results = KSpaceDegrade(scale=2)(
        dict(
            img=np.random.default_rng(0).uniform(size=(16, 12)),
            img_path='a.nii.gz',
            slice_index=3,
            volume_id='a',
            voxel_size=(1.0, 1.0, 1.2)))
    packed = PackMRIInputs()(results)
    sample = packed['data_samples']
    assert packed['inputs'].shape == (1, 8, 6)
    assert packed['inputs'].dtype == torch.float32
    torch.testing.assert_close(packed['inputs'][0],
                               torch.from_numpy(results['zero_filled']))
    assert sample.gt_hr.shape == (1, 16, 12)
    assert sample.gt_lr.shape == sample.zero_filled.shape == (1, 8, 6)
    assert sample.metainfo == dict(
        img_path='a.nii.gz',
        slice_index=3,
        volume_id='a',
        scale=2,
        voxel_size=(1.0, 1.0, 1.2),
        norm_mean=results['norm_mean'],
        norm_std=results['norm_std'])
    with pytest.raises(KeyError, match='b.nii.gz.*KSpaceDegrade'):
        PackMRIInputs()(dict(img_path='b.nii.gz'))


def test_degrade_refuses_bad_arguments():
    with pytest.raises(ValueError, match='scale'):
        KSpaceDegrade(scale=3)
    with pytest.raises(KeyError, match='official_6x'):
        KSpaceDegrade(mask='official_5x')
    with pytest.raises(KeyError, match='acceleration'):
        KSpaceDegrade(mask=dict(acceleration=4))
    with pytest.raises(ValueError, match='between'):
        cartesian_mask(32, 0.1, 0.25)
    with pytest.raises(ValueError, match='x.nii.gz: a 15 x 16 image'):
        KSpaceDegrade(scale=2)(
            dict(img=np.ones((15, 16)), img_path='x.nii.gz'))


def test_load_ixi_slice_turns_the_slice_and_refuses_bad_input(tmp_path):
    data = np.arange(4 * 6 * 3, dtype=np.int16).reshape(4, 6, 3)
    path = str(tmp_path / 'IXI001-Guys-0001-T2.nii.gz')
    nib.save(nib.Nifti1Image(data, np.eye(4)), path)
    results = LoadIXISlice()(dict(img_path=path, slice_index=1))
    # 90 degrees counter-clockwise: the last column becomes the first row.
    np.testing.assert_array_equal(results['img'][0], data[:, -1, 1])
    assert results['img'].shape == (6, 4)
    assert results['img'].dtype == np.float32
    with pytest.raises(IndexError, match=f'{path}: slice 3'):
        LoadIXISlice()(dict(img_path=path, slice_index=3))
    flat = str(tmp_path / 'flat-T2.nii.gz')
    nib.save(nib.Nifti1Image(data[..., 0], np.eye(4)), flat)
    with pytest.raises(ValueError, match=f'{flat}: expected a 3D volume'):
        LoadIXISlice()(dict(img_path=flat, slice_index=0))
    truncated = tmp_path / 'truncated-T2.nii.gz'
    truncated.write_bytes(open(path, 'rb').read()[:-40])
    with pytest.raises(ValueError, match=str(truncated)):
        LoadIXISlice()(dict(img_path=str(truncated), slice_index=2))
