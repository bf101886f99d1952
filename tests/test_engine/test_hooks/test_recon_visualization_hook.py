"""The test-time hook drawing T2Net's outputs (what tools/test.py.

--show-dir switches on), and the panel it draws, by hand.
"""
import uuid

import cv2
import numpy as np
import pytest
import torch
from mmengine.structures import BaseDataElement
from mmengine.visualization import Visualizer

from mmzoo.registry import HOOKS
from mmzoo.visualization import reconstruction_panel
from mmzoo.visualization.change_map import CAPTION_HEIGHT

pytestmark = pytest.mark.default_scope('mmzoo')


def test_panel_by_hand():
    gt = np.array([[0., 1., 2., 4.]] * 4)
    sr = gt.copy()
    sr[0, 0] = 0.8  # one error of 20% of the range, drawn at full scale
    zero_filled = np.array([[2., 6.], [-1., 4.]])
    panel = reconstruction_panel(zero_filled, gt[::2, ::2], sr, gt)
    tiles = [panel[CAPTION_HEIGHT:, i * 8:i * 8 + 4, 0] for i in range(5)]
    # Grey levels span the ground truth's range [0, 4] in every panel, the
    # low-resolution ones drawn as 2x2 blocks.
    np.testing.assert_array_equal(
        tiles[0], np.kron([[128, 255], [0, 255]], np.ones((2, 2))))
    np.testing.assert_array_equal(tiles[1],
                                  np.kron([[0, 128]] * 2, np.ones((2, 2))))
    np.testing.assert_array_equal(tiles[3], np.array([[0, 64, 128, 255]] * 4))
    assert tiles[2][0, 0] == 51 and (tiles[2][:, 1:] == tiles[3][:, 1:]).all()
    error = panel[CAPTION_HEIGHT:, 32:36]
    inferno = cv2.applyColorMap(
        np.array([[0, 255]], np.uint8), cv2.COLORMAP_INFERNO)[0, :, ::-1]
    np.testing.assert_array_equal(error[0, 0], inferno[1])
    assert (error[1:] == inferno[0]).all() and (error[0, 1:]
                                                == inferno[0]).all()
    # Without a ground truth: input, reconstruction and SR only.
    assert reconstruction_panel(zero_filled, zero_filled,
                                sr).shape == (4 + CAPTION_HEIGHT,
                                              3 * 4 + 2 * 4, 3)


def prediction(volume, index, rng):
    sample = BaseDataElement(
        metainfo=dict(
            volume_id=volume,
            slice_index=index,
            norm_mean=100.0,
            norm_std=20.0,
            img_path=f'{volume}.nii.gz'))
    sample.zero_filled = torch.from_numpy(rng.standard_normal((1, 4, 4)))
    sample.pred_recon = torch.from_numpy(rng.standard_normal((1, 4, 4)))
    sample.pred_sr = torch.from_numpy(rng.standard_normal((1, 8, 8)))
    sample.gt_hr = torch.from_numpy(rng.standard_normal((1, 8, 8)))
    return sample


class FakeRunner:
    """What the hook uses of mmengine's Runner."""

    def __init__(self, tmp_path):
        self.visualizer = Visualizer(
            name=f'vis-{uuid.uuid4()}',
            vis_backends=[dict(type='LocalVisBackend')],
            save_dir=str(tmp_path / 'vis'))
        self.work_dir = str(tmp_path / 'work')
        self.timestamp = '20261130_000000'
        self.iter = 0


def test_test_panels_every_interval(tmp_path):
    rng = np.random.default_rng(0)
    outputs = [prediction('IXI002', i, rng) for i in range(5)]
    hook = HOOKS.build(
        dict(
            type='mmzoo.ReconstructionVisualizationHook',
            draw=True,
            interval=2,
            test_out_dir='panels'))
    runner = FakeRunner(tmp_path)
    hook.before_test_epoch(runner)
    hook.after_test_iter(runner, 0, None, outputs[:3])
    hook.after_test_iter(runner, 1, None, outputs[3:])
    out = tmp_path / 'work' / runner.timestamp / 'panels'
    assert sorted(p.name for p in out.iterdir()) == [
        'IXI002_slice000.png', 'IXI002_slice002.png', 'IXI002_slice004.png'
    ]
    written = cv2.imread(str(out / 'IXI002_slice002.png'))[..., ::-1]
    s = outputs[2]
    expected = reconstruction_panel(*(s.get(k).numpy()[0] * 20 + 100
                                      for k in ('zero_filled', 'pred_recon',
                                                'pred_sr', 'gt_hr')))
    np.testing.assert_array_equal(written, expected)


def test_not_drawn_unless_asked(tmp_path):
    rng = np.random.default_rng(0)
    hook = HOOKS.build(
        dict(
            type='mmzoo.ReconstructionVisualizationHook',
            test_out_dir='panels'))
    runner = FakeRunner(tmp_path)
    hook.after_test_iter(runner, 0, None, [prediction('v', 0, rng)])
    hook.after_val_iter(runner, 0, None, [prediction('v', 0, rng)])
    assert not (tmp_path / 'work').exists()
    assert not (tmp_path / 'vis').exists() or not any(
        (tmp_path / 'vis').rglob('*.png'))
