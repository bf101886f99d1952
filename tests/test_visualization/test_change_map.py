"""Change-map pictures, checked pixel by pixel, and the validation hook
writing them through mmengine's visualiser."""
import uuid

import cv2
import numpy as np
import pytest
import torch
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData
from mmengine.visualization import Visualizer
from mmseg.structures import SegDataSample

from mmzoo.registry import HOOKS
from mmzoo.visualization import (change_panel, distance_to_image,
                                 error_image, overlay_changes)
from mmzoo.visualization.change_map import CAPTION_HEIGHT


def test_overlay_blends_inside_outlines_the_edge_and_keeps_the_rest():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (20, 20, 3), dtype=np.uint8)
    change = np.zeros((20, 20), np.uint8)
    change[5:12, 6:15] = 1
    out = overlay_changes(image, change, colour=(255, 0, 0), alpha=0.5)
    outside = np.ones((20, 20), bool)
    outside[4:13, 5:16] = False
    np.testing.assert_array_equal(out[outside], image[outside])
    inner = (slice(6, 11), slice(7, 14))
    expected = np.round(0.5 * image[inner] + 0.5 * np.array([255, 0, 0]))
    np.testing.assert_array_equal(out[inner], expected)
    # The outline runs along the changed region's border pixels.
    assert (out[5, 6:15] == (255, 0, 0)).all()
    assert (out[11, 6:15] == (255, 0, 0)).all()


def test_overlay_refuses_a_map_of_another_size():
    with pytest.raises(ValueError, match=r'change map has shape \(3, 3\)'):
        overlay_changes(np.zeros((4, 4, 3), np.uint8), np.zeros((3, 3)))


def test_distance_scale_puts_the_threshold_at_mid_grey():
    out = distance_to_image(np.array([[0, 0.5, 1.0, 2.0, 7.0]]), vmax=2.0)
    np.testing.assert_array_equal(out, [[0, 64, 128, 255, 255]])


def test_error_image_colours():
    label = np.array([[1, 1, 0, 0, 255]])
    pred = np.array([[1, 0, 1, 0, 1]])
    out = error_image(pred, label)
    np.testing.assert_array_equal(
        out[0], [[255, 255, 255], [40, 200, 60], [230, 40, 40], [0, 0, 0],
                 [110, 110, 110]])


def test_panel_lays_out_the_pictures_side_by_side():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (12, 10, 3), dtype=np.uint8)
    b = rng.integers(0, 256, (12, 10, 3), dtype=np.uint8)
    pred = (rng.random((12, 10)) < 0.5).astype(np.uint8)
    label = (rng.random((12, 10)) < 0.5).astype(np.uint8)
    panel = change_panel(a, b, pred, label, distance=rng.random((12, 10)))
    # A | B | label | prediction | distance | overlay, 4-pixel gaps.
    assert panel.shape == (12 + CAPTION_HEIGHT, 6 * 10 + 5 * 4, 3)
    body = panel[CAPTION_HEIGHT:]
    np.testing.assert_array_equal(body[:, :10], a)
    np.testing.assert_array_equal(body[:, 14:24], b)
    np.testing.assert_array_equal(body[:, 42:52], error_image(pred, label))
    without_label = change_panel(a, b, pred)
    assert without_label.shape[1] == 4 * 10 + 3 * 4


def write_pair(folder, name, size=16):
    rng = np.random.default_rng(len(name))
    paths = []
    for date in 'AB':
        path = folder / date / name
        path.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(path), rng.integers(0, 256, (size, size, 3),
                                            dtype=np.uint8))
        paths.append(str(path))
    return paths


def prediction(path_a, path_b, size=16):
    sample = SegDataSample()
    sample.set_metainfo(
        dict(img_path=path_b, img_path_a=path_a, img_path_b=path_b))
    change = torch.zeros(1, size, size, dtype=torch.long)
    change[:, 4:9, 4:9] = 1
    sample.pred_sem_seg = PixelData(data=change)
    sample.gt_sem_seg = PixelData(data=change.clone())
    sample.seg_logits = PixelData(data=change.float() * 1.5)
    return sample


class FakeRunner:
    """What the hook uses of mmengine's Runner."""

    def __init__(self, save_dir):
        self.visualizer = Visualizer(
            name=f'vis-{uuid.uuid4()}',
            vis_backends=[dict(type='LocalVisBackend')],
            save_dir=str(save_dir))
        self.iter = 0


def test_hook_writes_the_first_pairs_every_interval(tmp_path):
    pairs = [write_pair(tmp_path / 'data', f'p{i}.png') for i in range(3)]
    outputs = [prediction(a, b) for a, b in pairs]
    init_default_scope('mmzoo')
    hook = HOOKS.build(
        dict(type='mmzoo.ChangeVisualizationHook', interval=2, num_pairs=2))
    runner = FakeRunner(tmp_path / 'vis')
    images = tmp_path / 'vis' / 'vis_data' / 'vis_image'
    for iteration in (10, 20, 30):
        runner.iter = iteration
        hook.before_val_epoch(runner)
        # Two batches: the hook stops after num_pairs pictures.
        hook.after_val_iter(runner, 0, None, outputs[:2])
        hook.after_val_iter(runner, 1, None, outputs[2:])
    written = sorted(p.name for p in images.iterdir())
    # Validations 1 and 3 are drawn (interval 2), pairs p0 and p1 each time.
    assert written == ['change_p0_10.png', 'change_p0_30.png',
                       'change_p1_10.png', 'change_p1_30.png']
    panel = cv2.cvtColor(
        cv2.imread(str(images / 'change_p1_30.png')), cv2.COLOR_BGR2RGB)
    expected = change_panel(
        cv2.cvtColor(cv2.imread(pairs[1][0]), cv2.COLOR_BGR2RGB),
        cv2.cvtColor(cv2.imread(pairs[1][1]), cv2.COLOR_BGR2RGB),
        outputs[1].pred_sem_seg.data[0].numpy(),
        outputs[1].gt_sem_seg.data[0].numpy(),
        distance=outputs[1].seg_logits.data[0].numpy())
    np.testing.assert_array_equal(panel, expected)


def test_hook_draws_test_runs_too(tmp_path):
    a, b = write_pair(tmp_path / 'data', 'only.png')
    init_default_scope('mmzoo')
    hook = HOOKS.build(dict(type='mmzoo.ChangeVisualizationHook'))
    runner = FakeRunner(tmp_path / 'vis')
    hook.before_test_epoch(runner)
    hook.after_test_iter(runner, 0, None, [prediction(a, b)])
    assert (tmp_path / 'vis' / 'vis_data' / 'vis_image' /
            'change_only_0.png').is_file()
