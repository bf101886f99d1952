import os.path as osp
from typing import Optional, Sequence

import cv2
import numpy as np
from mmengine.hooks import Hook

from mmzoo.registry import HOOKS
from mmzoo.utils.fileio import atomic_write_bytes
from mmzoo.visualization import reconstruction_panel


def _image(sample, name: str) -> np.ndarray:
    """A (1, H, W) field of a sample as (H, W) in the image's own units."""
    value = sample.get(name)
    if value is None:
        raise KeyError(f'ReconstructionVisualizationHook: the data sample of '
                       f'{sample.get("img_path")} has no {name!r}')
    image = value.detach().cpu().float().numpy()[0]
    return image * sample.get('norm_std', 1.0) + sample.get('norm_mean', 0.0)


def sample_panel(sample) -> np.ndarray:
    """The panel of one predicted data sample (T2Net's fields)."""
    return reconstruction_panel(
        _image(sample, 'zero_filled'), _image(sample, 'pred_recon'),
        _image(sample, 'pred_sr'), _image(sample, 'gt_hr'))


def sample_name(sample) -> str:
    volume = sample.get('volume_id')
    if volume is None:
        volume = osp.basename(str(sample.get('img_path', 'slice')))
    return f'{volume}_slice{int(sample.get("slice_index", 0)):03d}'


@HOOKS.register_module()
class ReconstructionVisualizationHook(Hook):
    """Draw MRI restorations as panels, one per slice.

    A panel shows zero-filled input | reconstruction | SR output | ground
    truth | error map.

    It takes mmdet ``DetVisualizationHook``'s arguments, so that
    ``tools/test.py --show-dir DIR`` switches it on the same way: in a test
    run with ``draw`` every ``interval``-th slice is drawn, written to
    ``test_out_dir`` as ``{volume_id}_slice{index}.png`` (relative to
    ``{work_dir}/{timestamp}`` unless absolute) and given to the runner's
    visualiser; in validation the first slice of every ``interval``-th
    iteration goes to the visualiser only (``LocalVisBackend`` writes it
    under ``vis_data/vis_image``). Images are de-normalised with the
    samples' ``norm_mean`` and ``norm_std``.

    Args:
        draw (bool): Draw at all. Defaults to False.
        interval (int): Draw every ``interval``-th slice (test) or
            iteration (validation). Defaults to 50.
        show (bool): Show the panels in a window. Defaults to False.
        wait_time (float): Seconds each shown panel stays. Defaults to 0.
        test_out_dir (str, optional): Folder of the test panels.
    """

    def __init__(self,
                 draw: bool = False,
                 interval: int = 50,
                 show: bool = False,
                 wait_time: float = 0.,
                 test_out_dir: Optional[str] = None) -> None:
        if interval < 1:
            raise ValueError(f'interval must be >= 1, got {interval}')
        self.draw = draw
        self.interval = interval
        self.show = show
        self.wait_time = wait_time
        self.test_out_dir = test_out_dir
        self._test_index = 0

    def _show(self, runner, name: str, panel: np.ndarray, step: int) -> None:
        runner.visualizer.add_image(name, panel, step)
        if self.show:
            runner.visualizer.show(
                panel, win_name=name, wait_time=self.wait_time)

    def after_val_iter(self,
                       runner,
                       batch_idx: int,
                       data_batch=None,
                       outputs: Optional[Sequence] = None) -> None:
        if not self.draw or not outputs:
            return
        step = runner.iter + batch_idx
        if step % self.interval == 0:
            self._show(runner, 'val_' + sample_name(outputs[0]),
                       sample_panel(outputs[0]), step)

    def before_test_epoch(self, runner) -> None:
        self._test_index = 0

    def after_test_iter(self,
                        runner,
                        batch_idx: int,
                        data_batch=None,
                        outputs: Optional[Sequence] = None) -> None:
        if not self.draw:
            return
        out_dir = None
        if self.test_out_dir is not None:
            out_dir = osp.join(runner.work_dir, runner.timestamp,
                               self.test_out_dir)
        for sample in outputs:
            index, self._test_index = self._test_index, self._test_index + 1
            if index % self.interval:
                continue
            name, panel = sample_name(sample), sample_panel(sample)
            if out_dir is not None:
                ok, png = cv2.imencode('.png', panel[..., ::-1])
                if not ok:
                    raise RuntimeError(f'could not encode the panel {name}')
                atomic_write_bytes(png.tobytes(),
                                   osp.join(out_dir, f'{name}.png'))
            self._show(runner, 'test_' + name, panel, index)
