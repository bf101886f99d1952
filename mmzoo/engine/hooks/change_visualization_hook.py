import os.path as osp
from typing import Optional, Sequence

import mmcv
import mmengine.fileio as fileio
import numpy as np
from mmengine.hooks import Hook

from mmzoo.registry import HOOKS
from mmzoo.visualization import change_panel


@HOOKS.register_module()
class ChangeVisualizationHook(Hook):
    """Draw the change maps of the first few pairs of a validation (and of a
    test run) as A | B | label | prediction | distance | overlay panels.

    Panels go through the runner's visualiser (``add_image``), so every
    configured backend receives them: ``LocalVisBackend`` writes
    ``{work_dir}/{timestamp}/vis_data/vis_image/change_{name}_{iter}.png``
    and ``TensorboardVisBackend`` logs them under ``change_{name}``. The
    pairs are the same at every validation, so the pictures show how the
    predictions evolve during training.

    Args:
        interval (int): Draw at every ``interval``-th validation (the first
            one included). Defaults to 1.
        num_pairs (int): Pairs drawn each time, from the start of the
            split. Defaults to 4.
        vmax (float): Distance drawn white in the distance panel. Defaults
            to 2.0, STANet's margin (its threshold 1 is then mid-grey).
        backend_args (dict, optional): File backend arguments used to read
            the images. Defaults to None.
    """

    def __init__(self,
                 interval: int = 1,
                 num_pairs: int = 4,
                 vmax: float = 2.0,
                 backend_args: Optional[dict] = None) -> None:
        if interval < 1 or num_pairs < 1:
            raise ValueError(f'interval and num_pairs must be >= 1, got '
                             f'{interval} and {num_pairs}')
        self.interval = interval
        self.num_pairs = num_pairs
        self.vmax = vmax
        self.backend_args = backend_args
        self._validations = 0
        self._left = 0

    def _read(self, path: str) -> np.ndarray:
        return mmcv.imfrombytes(
            fileio.get(path, backend_args=self.backend_args),
            channel_order='rgb')

    def _panel(self, sample) -> np.ndarray:
        pred = sample.pred_sem_seg.data.squeeze(0).cpu().numpy()
        label = distance = None
        if 'gt_sem_seg' in sample:
            label = sample.gt_sem_seg.data.squeeze(0).cpu().numpy()
        if 'seg_logits' in sample and sample.seg_logits.data.shape[0] == 1:
            distance = sample.seg_logits.data[0].float().cpu().numpy()
        return change_panel(
            self._read(sample.img_path_a),
            self._read(sample.img_path_b),
            pred,
            label=label,
            distance=distance,
            vmax=self.vmax)

    def _draw(self, runner, outputs: Sequence, step: int) -> None:
        for sample in outputs:
            if self._left <= 0:
                return
            name = osp.splitext(osp.basename(sample.img_path_b))[0]
            runner.visualizer.add_image(f'change_{name}', self._panel(sample),
                                        step)
            self._left -= 1

    def before_val_epoch(self, runner) -> None:
        draw = self._validations % self.interval == 0
        self._validations += 1
        self._left = self.num_pairs if draw else 0

    def after_val_iter(self,
                       runner,
                       batch_idx: int,
                       data_batch=None,
                       outputs: Optional[Sequence] = None) -> None:
        self._draw(runner, outputs, runner.iter)

    def before_test_epoch(self, runner) -> None:
        self._left = self.num_pairs

    def after_test_iter(self,
                        runner,
                        batch_idx: int,
                        data_batch=None,
                        outputs: Optional[Sequence] = None) -> None:
        self._draw(runner, outputs, 0)
