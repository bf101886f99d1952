"""OCTA prediction pictures, checked pixel by pixel, and OCTAVisualizer driven
by mmseg's SegVisualizationHook as tools/test.py --show-dir drives it."""
from unittest.mock import MagicMock

import cv2
import numpy as np
import pytest
import torch
from mmengine.structures import PixelData
from mmseg.engine.hooks import SegVisualizationHook
from mmseg.structures import SegDataSample

from mmzoo.registry import VISUALIZERS
from mmzoo.visualization import (class_title, faz_contours, heatmap_to_image,
                                 octa_panel, sdm_to_image)
from mmzoo.visualization.change_map import CAPTION_HEIGHT
from mmzoo.visualization.octa_panel import (INSIDE, OUTSIDE, PREDICTED,
                                            TITLE_HEIGHT, TRUE)

H, W = 24, 30


def masks():
    pred = np.zeros((H, W), np.uint8)
    gt = np.zeros((H, W), np.uint8)
    pred[5:15, 6:20] = 1
    gt[5:18, 6:12] = 1
    return pred, gt


def test_contours_outline_both_masks_and_keep_the_rest():
    image = np.random.default_rng(0).integers(0, 256, (H, W), dtype=np.uint8)
    pred, gt = masks()
    out = faz_contours(image, pred, gt)
    # Grey in, the same grey in every channel out, away from the outlines.
    assert (out[20:, 20:] == image[20:, 20:, None]).all()
    assert (out[8:12, 14:18] == image[8:12, 14:18, None]).all()
    assert (out[5, 13:20] == PREDICTED).all()  # the prediction's top edge
    assert (out[17, 6:12] == TRUE).all()  # the truth's bottom edge
    # Where the outlines coincide (top-left corner), the prediction's shows.
    assert (out[5, 6] == PREDICTED).all()


def test_colour_scales():
    heat = heatmap_to_image(np.array([[-1, 0, 0.5, 1, 3]]))[0]
    brightness = heat.astype(int).sum(1)
    assert (heat[0] == heat[1]).all() and (heat[3] == heat[4]).all()
    assert brightness[1] < 20 and brightness[1] < brightness[2] < brightness[3]
    sdm = sdm_to_image(np.array([[-2, -1, -0.5, 0, 1, 5]]))[0]
    np.testing.assert_array_equal(
        sdm[[0, 1, 3, 4, 5]], [INSIDE, INSIDE, (255, ) * 3, OUTSIDE, OUTSIDE])
    # Half-way between white and the inside colour.
    np.testing.assert_array_equal(sdm[2], np.round(
        (255 + np.array(INSIDE)) / 2))


def test_class_title():
    names = ('NORMAL', 'DR', 'AMD')
    assert class_title(names, 1, 0.873,
                       0) == 'predicted DR (87%) | true NORMAL'
    assert class_title(names, 2) == 'predicted AMD'
    assert class_title(None, None, None, 1) == 'true class 1'
    assert class_title(names) == ''


def test_panel_layout():
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
    pred, gt = masks()
    heatmap, sdm = rng.random((H, W)), rng.uniform(-1, 1, (H, W))
    panel = octa_panel(image, pred, heatmap, sdm, gt, 'predicted DR')
    assert panel.shape[1:] == (3 * W + 8, 3)
    assert (panel.shape[0] - CAPTION_HEIGHT - H) % TITLE_HEIGHT == 0
    body = panel[-H:]
    np.testing.assert_array_equal(body[:, :W], faz_contours(image, pred, gt))
    np.testing.assert_array_equal(body[:, W + 4:2 * W + 4],
                                  heatmap_to_image(heatmap))
    np.testing.assert_array_equal(body[:, 2 * W + 8:], sdm_to_image(sdm))
    # The title strip holds dark text on white, in as many lines as fit.
    assert panel[:TITLE_HEIGHT].min() < 100
    long_title = 'predicted NORMAL (87%) | FAZ 0.312 mm2, circularity 0.81'
    narrow = octa_panel(image, title=long_title)
    assert narrow.shape[0] - CAPTION_HEIGHT - H >= 4 * TITLE_HEIGHT
    wide = octa_panel(np.zeros((H, 400), np.uint8), title=long_title)
    assert wide.shape[0] == TITLE_HEIGHT + CAPTION_HEIGHT + H
    assert octa_panel(image).shape[1] == W
    with pytest.raises(ValueError, match=r'heatmap has shape \(3, 3\)'):
        octa_panel(image, pred, np.zeros((3, 3)))


def octa_sample(img_path, pred, gt):
    sample = SegDataSample(metainfo=dict(img_path=str(img_path)))
    sample.pred_sem_seg = PixelData(data=torch.from_numpy(pred)[None].long())
    sample.gt_sem_seg = PixelData(data=torch.from_numpy(gt)[None].long())
    rng = np.random.default_rng(2)
    sample.pred_heatmap = PixelData(
        data=torch.from_numpy(rng.random((1, H, W)).astype(np.float32)))
    sample.pred_sdm = PixelData(
        data=torch.from_numpy(
            rng.uniform(-1, 1, (1, H, W)).astype(np.float32)))
    sample.pred_class = torch.tensor(1)
    sample.pred_class_score = torch.tensor([0.2, 0.7, 0.1])
    sample.gt_class = torch.tensor(0)
    return sample


def test_visualizer_through_mmseg_hook(tmp_path):
    """SegVisualizationHook reads the image at img_path and hands it with the
    model's output to the current visualiser, which saves the panel under the
    save_dir (what tools/test.py --show-dir sets)."""
    image = np.random.default_rng(3).integers(0, 256, (H, W), dtype=np.uint8)
    cv2.imwrite(str(tmp_path / '10301.bmp'), image)
    visualizer = VISUALIZERS.build(
        dict(
            type='mmzoo.OCTAVisualizer',
            name='octa_panel_test',
            vis_backends=[dict(type='LocalVisBackend')],
            save_dir=str(tmp_path / 'show')))
    visualizer.dataset_meta = dict(
        classes=('background', 'FAZ'),
        diagnosis_classes=('NORMAL', 'DR', 'AMD'))
    hook = SegVisualizationHook(draw=True, interval=1)
    assert hook._visualizer is visualizer
    pred, gt = masks()
    sample = octa_sample(tmp_path / '10301.bmp', pred, gt)
    hook.after_test_iter(
        MagicMock(iter=7), batch_idx=0, data_batch={}, outputs=[sample])
    written = tmp_path / 'show' / 'vis_data' / 'vis_image' / \
        'test_10301.bmp_7.png'
    drawn = cv2.cvtColor(cv2.imread(str(written)), cv2.COLOR_BGR2RGB)
    expected = octa_panel(image, pred, sample.pred_heatmap.data[0].numpy(),
                          sample.pred_sdm.data[0].numpy(), gt,
                          'predicted DR (70%) | true NORMAL')
    np.testing.assert_array_equal(drawn, expected)

    # Predictions only (draw_gt=False): no true outline, no true class.
    out_file = tmp_path / 'pred_only.png'
    visualizer.add_datasample(
        'x',
        np.repeat(image[..., None], 3, 2),
        sample,
        draw_gt=False,
        out_file=str(out_file))
    drawn = cv2.cvtColor(cv2.imread(str(out_file)), cv2.COLOR_BGR2RGB)
    np.testing.assert_array_equal(
        drawn,
        octa_panel(image, pred, sample.pred_heatmap.data[0].numpy(),
                   sample.pred_sdm.data[0].numpy(), None,
                   'predicted DR (70%)'))


def test_visualizer_names_the_image_on_a_size_mismatch():
    visualizer = VISUALIZERS.build(
        dict(type='mmzoo.OCTAVisualizer', name='octa_panel_mismatch'))
    pred, gt = masks()
    sample = octa_sample('a.bmp', pred, gt)
    with pytest.raises(
            ValueError, match=r'eye_7: the ground truth has shape \(24, 30\)'):
        visualizer.add_datasample('eye_7', np.zeros((H + 1, W, 3), np.uint8),
                                  sample)
