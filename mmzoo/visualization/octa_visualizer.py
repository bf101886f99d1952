"""mmseg's visualiser drawing BSDA-Net's outputs for ``tools/test.py.

--show-dir``.
"""
import os.path as osp
from typing import Optional

import cv2
import numpy as np
from mmengine.dist import master_only
from mmseg.structures import SegDataSample
from mmseg.visualization import SegLocalVisualizer

from mmzoo.registry import VISUALIZERS
from mmzoo.utils.fileio import atomic_write_bytes
from .octa_panel import class_title, octa_panel


def _map(sample: SegDataSample, key: str) -> Optional[np.ndarray]:
    if key not in sample:
        return None
    return getattr(sample, key).data[0].cpu().numpy()


def _scalar(sample: SegDataSample, key: str):
    return sample.get(key).item() if key in sample else None


@VISUALIZERS.register_module()
class OCTAVisualizer(SegLocalVisualizer):
    """Draws an OCTA image with BSDA-Net's prediction: the image with the
    predicted FAZ outlined in red and the true one in green | the boundary
    heatmap | the signed distance map, under a title with the predicted
    diagnosis, its probability and the true one (names from
    ``dataset_meta['diagnosis_classes']``, which the runner copies from the
    dataset). See :func:`mmzoo.visualization.octa_panel`.

    mmseg's ``SegVisualizationHook`` calls :meth:`add_datasample` with every
    test image, so a config with ``visualizer=dict(type='mmzoo.OCTAVisualizer',
    vis_backends=[...])`` and that hook makes ``tools/test.py --show-dir DIR``
    write these pictures. The arguments are SegLocalVisualizer's.
    """

    @master_only
    def add_datasample(self,
                       name: str,
                       image: np.ndarray,
                       data_sample: Optional[SegDataSample] = None,
                       draw_gt: bool = True,
                       draw_pred: bool = True,
                       show: bool = False,
                       wait_time: float = 0,
                       out_file: Optional[str] = None,
                       step: int = 0,
                       with_labels: Optional[bool] = True) -> None:
        """Draw one sample, then show it, save it to ``out_file`` or hand it to
        the visualisation backends, as SegLocalVisualizer does.

        Args:
            name (str): The image identifier.
            image (np.ndarray): The original image, RGB (or grey) uint8.
            data_sample (SegDataSample, optional): The model's output, with
                ``pred_sem_seg``, ``pred_heatmap``, ``pred_sdm``,
                ``pred_class`` and ``pred_class_score``, and the ground truth
                ``gt_sem_seg`` and ``gt_class`` where known; whatever is
                missing is left out of the picture.
            draw_gt (bool): Draw the ground truth. Defaults to True.
            draw_pred (bool): Draw the prediction. Defaults to True.
            show (bool): Show the picture in a window. Defaults to False.
            wait_time (float): Seconds to show it. Defaults to 0.
            out_file (str, optional): Save the picture there instead of
                handing it to the backends. Defaults to None.
            step (int): Global step of the picture. Defaults to 0.
            with_labels (bool): Unused; SegLocalVisualizer's argument.
        """
        sample = data_sample if data_sample is not None else SegDataSample()
        pred = heatmap = sdm = pred_class = score = None
        if draw_pred:
            pred = _map(sample, 'pred_sem_seg')
            heatmap = _map(sample, 'pred_heatmap')
            sdm = _map(sample, 'pred_sdm')
            pred_class = _scalar(sample, 'pred_class')
            if pred_class is not None and 'pred_class_score' in sample:
                score = float(sample.pred_class_score[pred_class])
        gt = _map(sample, 'gt_sem_seg') if draw_gt else None
        gt_class = _scalar(sample, 'gt_class') if draw_gt else None
        classes = self.dataset_meta.get('diagnosis_classes')
        try:
            drawn = octa_panel(
                image, pred, heatmap, sdm, gt,
                class_title(classes, pred_class, score, gt_class))
        except ValueError as error:
            raise ValueError(f'{name}: {error}') from None
        if show:
            self.show(drawn, win_name=name, wait_time=wait_time)
        if out_file is not None:
            ok, encoded = cv2.imencode(
                osp.splitext(out_file)[1] or '.png',
                cv2.cvtColor(drawn, cv2.COLOR_RGB2BGR))
            if not ok:
                raise RuntimeError(f'cv2 could not encode the picture {name}')
            atomic_write_bytes(encoded.tobytes(), out_file)
        else:
            self.add_image(name, drawn, step)
