"""Change-map pictures, checked pixel by pixel."""
import numpy as np
import pytest

from mmzoo.visualization import (change_panel, distance_to_image, error_image,
                                 overlay_changes)
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
    np.testing.assert_array_equal(out[0],
                                  [[255, 255, 255], [40, 200, 60],
                                   [230, 40, 40], [0, 0, 0], [110, 110, 110]])


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
