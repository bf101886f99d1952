"""The validation/test hook drawing change maps through mmengine's visualiser,
checked pixel by pixel against the panel it should write."""
import uuid

import cv2
import numpy as np
import pytest
import torch
from mmengine.structures import PixelData
from mmengine.visualization import Visualizer
from mmseg.structures import SegDataSample

from mmzoo.registry import HOOKS
from mmzoo.visualization import change_panel

pytestmark = pytest.mark.default_scope('mmzoo')


def write_pair(folder, name, size=16):
    rng = np.random.default_rng(len(name))
    paths = []
    for date in 'AB':
        path = folder / date / name
        path.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(
            str(path), rng.integers(0, 256, (size, size, 3), dtype=np.uint8))
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
    assert written == [
        'change_p0_10.png', 'change_p0_30.png', 'change_p1_10.png',
        'change_p1_30.png'
    ]
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
    hook = HOOKS.build(dict(type='mmzoo.ChangeVisualizationHook'))
    runner = FakeRunner(tmp_path / 'vis')
    hook.before_test_epoch(runner)
    hook.after_test_iter(runner, 0, None, [prediction(a, b)])
    assert (tmp_path / 'vis' / 'vis_data' / 'vis_image' /
            'change_only_0.png').is_file()
