"""Bitemporal transforms move A, B and the label together, rotate as the
official STANet does (PIL, expanded canvas) and jitter each date on its own."""
import numpy as np
import pytest
from PIL import Image

from mmzoo.registry import TRANSFORMS

pytestmark = pytest.mark.default_scope('mmzoo')

H, W = 40, 56
# A marked 5x5 block, off-centre so that every transform moves it.
BLOCK = (slice(8, 13), slice(30, 35))


def marked_results():
    """A pair whose date A, date B and label mark the same block, each with its
    own value; everything else is dark."""
    image = np.full((H, W, 6), 10, np.uint8)
    image[BLOCK + (slice(0, 3), )] = (200, 0, 0)
    image[BLOCK + (slice(3, 6), )] = (0, 0, 150)
    label = np.zeros((H, W), np.uint8)
    label[BLOCK] = 1
    return dict(
        img=image,
        img_shape=(H, W),
        ori_shape=(H, W),
        gt_seg_map=label,
        seg_fields=['gt_seg_map'])


def masks(results):
    image = results['img']
    return (image[..., 0] == 200, image[...,
                                        5] == 150, results['gt_seg_map'] == 1)


def build(cfg):
    return TRANSFORMS.build(cfg)


@pytest.mark.parametrize(
    'cfg', [
        dict(type='mmseg.RandomCrop', crop_size=(24, 24)),
        dict(type='mmseg.RandomFlip', prob=1.0, direction='horizontal'),
        dict(type='mmseg.RandomFlip', prob=1.0, direction='vertical'),
        dict(type='mmzoo.BitemporalRandomRotate', degree=(0, 15)),
    ],
    ids=['crop', 'hflip', 'vflip', 'rotate'])
def test_a_b_and_label_stay_aligned(cfg):
    transform = build(cfg)
    np.random.seed(3)
    seen = 0
    for _ in range(8):
        out = transform(marked_results())
        mask_a, mask_b, mask_label = masks(out)
        np.testing.assert_array_equal(mask_a, mask_b)
        np.testing.assert_array_equal(mask_a, mask_label)
        assert out['img'].shape[:2] == out['gt_seg_map'].shape
        assert out['img_shape'] == out['img'].shape[:2]
        seen += mask_a.any()
    # The crops must have kept the block at least once to show anything.
    assert seen


def test_rotation_matches_pil_on_an_expanded_canvas():
    """The official code rotates with PIL: counter-clockwise, nearest,
    ``expand=1``; the block must land where PIL puts it."""
    results = marked_results()
    pil = Image.fromarray(results['img'][..., :3]).rotate(
        12.0, resample=Image.NEAREST, expand=True)
    pil_mask = np.asarray(pil)[..., 0] == 200
    out = build(
        dict(type='mmzoo.BitemporalRandomRotate', degree=(12.0, 12.0)))(
            results)
    mask_a, _, _ = masks(out)
    assert abs(out['img'].shape[0] - pil.size[1]) <= 1
    assert abs(out['img'].shape[1] - pil.size[0]) <= 1
    centre = np.argwhere(mask_a).mean(0)
    pil_centre = np.argwhere(pil_mask).mean(0)
    np.testing.assert_allclose(centre, pil_centre, atol=1.0)
    assert abs(int(mask_a.sum()) - int(pil_mask.sum())) <= 3


def official_rotate(rgb, degree):
    """The official STANet's rotation of an RGB image (``__rotate`` in its
    data/base_dataset.py): PIL's rotation of the RGBA image on an expanded
    canvas, composited over a grey 128 canvas through its alpha."""
    rotated = Image.fromarray(rgb).convert('RGBA').rotate(degree, expand=1)
    grey = Image.new('RGBA', rotated.size, (128, ) * 4)
    return np.asarray(Image.composite(rotated, grey, rotated).convert('RGB'))


@pytest.mark.parametrize('degree', [3.0, 12.0])
def test_rotation_fills_the_corners_grey_as_the_official_code(degree):
    results = marked_results()
    official = official_rotate(results['img'][..., :3], degree)
    out = build(
        dict(type='mmzoo.BitemporalRandomRotate', degree=(degree, degree)))(
            results)
    image, label = out['img'], out['gt_seg_map']
    corners = ((0, 0), (0, -1), (-1, 0), (-1, -1))
    for y, x in corners:
        assert official[y, x].tolist() == [128] * 3
        assert image[y, x].tolist() == [128] * 6
    # The pair holds no 128 of its own: 128 marks the fill, in all six
    # channels at once, exactly where the label is ignored.
    fill, official_fill = (image == 128).all(2), (official == 128).all(2)
    np.testing.assert_array_equal((image == 128).any(2), fill)
    np.testing.assert_array_equal(fill, label == 255)
    # Both fill all but the rotated image's H x W pixels (the canvases differ
    # by a pixel or two, and nearest sampling at the rim by a few pixels).
    assert abs(int((~fill).sum()) -
               int((~official_fill).sum())) <= 0.01 * H * W


def test_rotation_pads_the_label_with_the_ignore_index():
    out = build(dict(type='mmzoo.BitemporalRandomRotate', degree=(15, 15)))(
        marked_results())
    label, image = out['gt_seg_map'], out['img']
    # Corners of the expanded canvas are outside the rotated image.
    for y, x in ((0, 0), (0, -1), (-1, 0), (-1, -1)):
        assert label[y, x] == 255
        assert (image[y, x] == 128).all()
    # Inside the image every pixel keeps its label; nothing else is 255.
    inside = image[..., 0] == 10
    assert (label[inside] == 0).all()
    assert set(np.unique(label).tolist()) == {0, 1, 255}


def test_rotation_probability_zero_leaves_the_pair_alone():
    results = marked_results()
    before = results['img'].copy()
    out = build(dict(type='mmzoo.BitemporalRandomRotate', prob=0.0))(results)
    np.testing.assert_array_equal(out['img'], before)


def test_photometric_distortion_draws_each_date_on_its_own():
    rng = np.random.default_rng(0)
    rgb = rng.integers(30, 220, (16, 16, 3), dtype=np.uint8)
    transform = build(dict(type='mmzoo.BitemporalPhotoMetricDistortion'))
    np.random.seed(0)
    differ = 0
    for _ in range(10):
        out = transform(dict(img=np.concatenate([rgb, rgb], axis=2)))
        image = out['img']
        assert image.shape == (16, 16, 6) and image.dtype == np.uint8
        differ += not np.array_equal(image[..., :3], image[..., 3:])
    # Identical dates come out different in (nearly) every draw.
    assert differ >= 8


def test_photometric_distortion_is_mmsegs_on_bgr_for_each_date():
    """mmseg's distortion expects BGR (its hue step converts BGR to HSV); date
    A must come out as mmseg's distortion of A's BGR, drawn first."""
    from mmseg.datasets.transforms import PhotoMetricDistortion
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, (8, 8, 6), dtype=np.uint8)
    transform = build(
        dict(type='mmzoo.BitemporalPhotoMetricDistortion', hue_delta=30))
    for seed in range(5):
        np.random.seed(seed)
        out = transform(dict(img=image.copy()))['img']
        np.random.seed(seed)
        bgr = np.ascontiguousarray(image[..., 2::-1])
        expected = PhotoMetricDistortion(hue_delta=30).transform(
            dict(img=bgr))['img'][..., ::-1]
        np.testing.assert_array_equal(out[..., :3], expected)


def test_pack_gives_a_6_channel_uint8_tensor_and_both_paths():
    results = marked_results()
    results.update(img_path='b.png', img_path_a='a.png', img_path_b='b.png')
    packed = build(dict(type='mmzoo.PackBitemporalInputs'))(results)
    inputs = packed['inputs']
    assert tuple(inputs.shape) == (6, H, W)
    assert str(inputs.dtype) == 'torch.uint8'
    np.testing.assert_array_equal(
        inputs.permute(1, 2, 0).numpy(), results['img'])
    sample = packed['data_samples']
    assert (sample.img_path_a, sample.img_path_b) == ('a.png', 'b.png')
    np.testing.assert_array_equal(sample.gt_sem_seg.data[0].numpy(),
                                  results['gt_seg_map'])


def test_pack_refuses_a_single_date():
    results = marked_results()
    results.update(img=results['img'][..., :3], img_path_b='b.png')
    with pytest.raises(ValueError, match=r'b\.png.*H x W x 6'):
        build(dict(type='mmzoo.PackBitemporalInputs'))(results)
