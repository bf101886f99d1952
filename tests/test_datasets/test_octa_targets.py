"""BSDA-Net's targets equal hand-worked values and the official MATLAB formulas
(llmir/MultitaskOCTA, Preprocessing/pre_dis.m), and the loading and packing
transforms refuse bad masks by name."""
import math

import cv2
import numpy as np
import pytest
import torch
from skimage.segmentation import find_boundaries

from mmzoo.datasets.transforms import (GenerateFAZTargets, LoadFAZAnnotation,
                                       PackOCTAInputs)
from mmzoo.datasets.transforms.octa_targets import (boundary, boundary_heatmap,
                                                    signed_distance_map)

SIGMA = 1.6


def diamond(size=7, radius=2):
    """|dy| + |dx| <= radius about the centre of a size x size image."""
    offsets = np.abs(np.arange(size) - size // 2)
    return (offsets[:, None] + offsets[None, :] <= radius).astype(np.uint8)


def blob(shape=(40, 48), seed=0):
    """An irregular FAZ-like region away from the border."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:shape[0], :shape[1]]
    angle = np.arctan2(yy - 20, xx - 23)
    radius = 9 * (1 + 0.2 * np.cos(3 * angle + rng.uniform(0, 6)) +
                  0.1 * np.cos(5 * angle + rng.uniform(0, 6)))
    return (np.hypot(yy - 20, xx - 23) <= radius).astype(np.uint8)


def bwdist(binary):
    """MATLAB's bwdist by brute force: each pixel's distance to the nearest
    nonzero pixel."""
    yy, xx = np.mgrid[:binary.shape[0], :binary.shape[1]]
    ys, xs = np.nonzero(binary)
    distance = np.hypot(yy[..., None] - ys, xx[..., None] - xs)
    return distance.min(-1)


def matlab_rescale(values, low=0., high=1.):
    return low + (values - values.min()) / (values.max() - values.min()) * (
        high - low)


def official_heatmap(mask):
    """pre_dis.m's loop: Zsum = Heatsum(Zsum, Gauss2D(...)) over the
    boundary pixels, then rescale and zero values below 0.01."""
    yy, xx = np.mgrid[:mask.shape[0], :mask.shape[1]]
    zsum = np.zeros(mask.shape)
    for y, x in zip(*np.nonzero(boundary(mask))):
        z = 0.5 * np.exp(-((xx - x)**2 + (yy - y)**2) / SIGMA**2)
        zsum = 1 - (1 - zsum) * (1 - z)
    contour = matlab_rescale(zsum)
    contour[contour < 0.01] = 0
    return contour


def official_sdm(mask):
    """pre_dis.m's s_dis11."""
    dis = matlab_rescale(bwdist(mask))
    s_dis = matlab_rescale(bwdist(mask) - bwdist(boundary(mask)), -1, 0)
    return dis + s_dis


def test_boundary_is_the_4_connected_perimeter():
    mask = diamond()
    # By hand: the ring |dy| + |dx| == 2; the inner cross, whose diagonal
    # neighbours lie outside, is no boundary under 4-connectivity.
    offsets = np.abs(np.arange(7) - 3)
    ring = offsets[:, None] + offsets[None, :] == 2
    np.testing.assert_array_equal(boundary(mask), ring)
    # scikit-image's inner boundary with the same connectivity.
    irregular = blob()
    np.testing.assert_array_equal(
        boundary(irregular),
        find_boundaries(irregular, connectivity=1, mode='inner'))


def test_boundary_counts_the_image_edge_as_outside():
    full = np.ones((4, 5), np.uint8)
    expected = np.ones((4, 5), bool)
    expected[1:-1, 1:-1] = False
    np.testing.assert_array_equal(boundary(full), expected)


def test_heatmap_of_one_pixel_in_closed_form():
    mask = np.zeros((5, 5), np.uint8)
    mask[2, 2] = 1
    yy, xx = np.mgrid[:5, :5]
    gauss = 0.5 * np.exp(-((yy - 2)**2 + (xx - 2)**2) / SIGMA**2)
    corner = 0.5 * math.exp(-8 / SIGMA**2)  # the smallest value
    expected = (gauss - corner) / (0.5 - corner)
    expected[expected < 0.01] = 0
    np.testing.assert_allclose(boundary_heatmap(mask), expected, atol=1e-12)
    # The corners (distance^2 8) fall to 0; the next ring (5) stays.
    assert boundary_heatmap(mask)[0, 1] == pytest.approx(
        (0.5 * math.exp(-5 / SIGMA**2) - corner) / (0.5 - corner))


def test_heatmap_combines_two_pixels_as_probabilities():
    mask = np.zeros((3, 4), np.uint8)
    mask[1, 1:3] = 1
    near = 0.5 * math.exp(-1 / SIGMA**2)
    # Each mask pixel: its own 0.5 and its neighbour's at distance 1.
    peak = 1 - (1 - 0.5) * (1 - near)
    # The farthest pixels, e.g. (0, 3): distances^2 5 and 2.
    low = 1 - (1 - 0.5 * math.exp(-5 / SIGMA**2)) * (
        1 - 0.5 * math.exp(-2 / SIGMA**2))
    heat = boundary_heatmap(mask)
    assert heat[1, 1] == heat[1, 2] == pytest.approx(1.0)
    assert heat[0, 3] == 0.0
    # (0, 1): distances^2 1 and 2.
    value = 1 - (1 - near) * (1 - 0.5 * math.exp(-2 / SIGMA**2))
    assert heat[0, 1] == pytest.approx((value - low) / (peak - low))


def test_sdm_of_the_diamond_by_hand():
    sdm = signed_distance_map(diamond())
    # Inside: the centre is sqrt(2) from the ring, its four neighbours 1;
    # both divided by the largest, sqrt(2).
    assert sdm[3, 3] == pytest.approx(-1)
    for y, x in ((2, 3), (4, 3), (3, 2), (3, 4)):
        assert sdm[y, x] == pytest.approx(-1 / math.sqrt(2))
    offsets = np.abs(np.arange(7) - 3)
    ring = offsets[:, None] + offsets[None, :] == 2
    assert (sdm[ring] == 0).all()
    # Outside: distance to the diamond over the largest, the corners'
    # 2 sqrt(2) (to (1, 1) from the centre).
    assert sdm[0, 0] == pytest.approx(1)
    assert sdm[3, 6] == pytest.approx(1 / (2 * math.sqrt(2)))
    assert sdm[1, 2] == pytest.approx(1 / (2 * math.sqrt(2)))
    assert sdm[0, 3] == pytest.approx(1 / (2 * math.sqrt(2)))


@pytest.mark.parametrize('seed', [0, 1])
def test_targets_equal_the_official_formulas(seed):
    mask = blob(seed=seed)
    np.testing.assert_allclose(
        boundary_heatmap(mask), official_heatmap(mask), atol=1e-12)
    np.testing.assert_allclose(
        signed_distance_map(mask), official_sdm(mask), atol=1e-12)
    # The official sign convention: negative inside, positive outside.
    sdm = signed_distance_map(mask)
    assert (sdm[mask.astype(bool) & ~boundary(mask)] < 0).all()
    assert (sdm[mask == 0] > 0).all()
    assert sdm.min() == -1 and sdm.max() == 1


def test_degenerate_masks_have_defined_targets():
    empty = np.zeros((6, 6), np.uint8)
    np.testing.assert_array_equal(boundary_heatmap(empty), 0)
    np.testing.assert_array_equal(signed_distance_map(empty), 1)
    # A line has no interior: 0 on it, the outside as usual.
    line = np.zeros((6, 6), np.uint8)
    line[3, 1:5] = 1
    sdm = signed_distance_map(line)
    assert (sdm[line == 1] == 0).all()
    np.testing.assert_allclose(sdm[line == 0],
                               matlab_rescale(bwdist(line))[line == 0])


def test_targets_follow_the_augmented_mask():
    """Computed after a flip, the targets are the flipped targets."""
    mask = blob()
    flipped = GenerateFAZTargets()(dict(gt_seg_map=mask[:, ::-1]))
    original = GenerateFAZTargets()(dict(gt_seg_map=mask))
    for key in ('gt_heatmap', 'gt_sdm'):
        assert flipped[key].dtype == np.float32
        np.testing.assert_allclose(
            flipped[key], original[key][:, ::-1], atol=1e-6)


def write(path, image):
    assert cv2.imwrite(str(path), image)
    return str(path)


@pytest.mark.parametrize('scale', [255, 1])
def test_load_accepts_0_255_and_0_1_masks(tmp_path, scale):
    mask = blob()
    path = write(tmp_path / 'mask.png', mask * scale)
    results = LoadFAZAnnotation()(
        dict(seg_map_path=path, ori_shape=mask.shape))
    np.testing.assert_array_equal(results['gt_seg_map'], mask)
    assert results['gt_seg_map'].dtype == np.uint8
    assert results['seg_fields'] == ['gt_seg_map']


def test_load_refuses_a_mask_that_is_not_binary(tmp_path):
    mask = blob() * 255
    mask[5, 5] = 128
    path = write(tmp_path / '10007.bmp', mask)
    with pytest.raises(
            ValueError, match=r'10007\.bmp is not binary.*\[0, 128, 255\]'):
        LoadFAZAnnotation()(dict(seg_map_path=path, ori_shape=mask.shape))


def test_load_refuses_a_mask_of_another_size(tmp_path):
    path = write(tmp_path / '10008.bmp', blob() * 255)
    with pytest.raises(
            ValueError,
            match=r'10008\.bmp is 48x40 but its image a\.bmp '
            r'is 50x40'):
        LoadFAZAnnotation()(
            dict(seg_map_path=path, img_path='a.bmp', ori_shape=(40, 50)))


def test_pack_puts_every_target_in_the_data_sample():
    image = np.arange(12, dtype=np.uint8).reshape(3, 4)
    mask = np.zeros((3, 4), np.uint8)
    mask[1, 1:3] = 1
    results = GenerateFAZTargets()(
        dict(
            img=image,
            gt_seg_map=mask,
            gt_class=2,
            subject_id='10001',
            pixel_spacing=0.015,
            fov_mm=6.0,
            ori_shape=(3, 4),
            img_shape=(3, 4)))
    packed = PackOCTAInputs()(results)
    inputs, sample = packed['inputs'], packed['data_samples']
    assert inputs.shape == (1, 3, 4) and inputs.dtype == torch.uint8
    np.testing.assert_array_equal(inputs[0].numpy(), image)
    assert sample.gt_sem_seg.data.dtype == torch.int64
    np.testing.assert_array_equal(sample.gt_sem_seg.data[0].numpy(), mask)
    for key in ('gt_heatmap', 'gt_sdm'):
        data = getattr(sample, key).data
        assert data.shape == (1, 3, 4) and data.dtype == torch.float32
        np.testing.assert_array_equal(data[0].numpy(), results[key])
    assert sample.gt_class.dtype == torch.int64 and sample.gt_class.ndim == 0
    assert int(sample.gt_class) == 2
    assert sample.subject_id == '10001'
    assert sample.pixel_spacing == 0.015 and sample.fov_mm == 6.0


def test_pack_without_labels_packs_the_image_only():
    packed = PackOCTAInputs()(
        dict(img=np.zeros((5, 6), np.uint8), ori_shape=(5, 6)))
    sample = packed['data_samples']
    assert packed['inputs'].shape == (1, 5, 6)
    for key in ('gt_sem_seg', 'gt_heatmap', 'gt_sdm', 'gt_class'):
        assert key not in sample


def test_load_takes_a_grey_mask_saved_as_colour_and_refuses_colour(tmp_path):
    mask = blob()
    grey = write(tmp_path / 'grey.png', np.repeat(mask[..., None] * 255, 3, 2))
    results = LoadFAZAnnotation()(dict(seg_map_path=grey))
    np.testing.assert_array_equal(results['gt_seg_map'], mask)
    colour = np.zeros((*mask.shape, 3), np.uint8)
    colour[..., 2] = mask * 255
    path = write(tmp_path / 'colour.png', colour)
    with pytest.raises(
            ValueError, match=r'colour\.png must be a single-channel image'):
        LoadFAZAnnotation()(dict(seg_map_path=path))
