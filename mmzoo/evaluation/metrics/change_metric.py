"""Binary change-detection scores from one confusion matrix per split."""
from collections import OrderedDict
from typing import Dict, Sequence

import numpy as np
import torch
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger

from mmzoo.registry import METRICS


def _ratio(numerator: float, denominator: float) -> float:
    # An empty denominator (no change predicted, say) scores 0, as
    # scikit-learn does with zero_division=0.
    return float(numerator / denominator) if denominator else 0.0


def change_scores(confusion: np.ndarray) -> Dict[str, float]:
    """Scores of the change class from a 2 x 2 confusion matrix.

    Args:
        confusion (np.ndarray): Pixel counts, rows the ground truth and
            columns the prediction, index 0 unchanged and 1 changed.

    Returns:
        dict: ``precision``, ``recall``, ``f1`` and ``iou`` of the change
        class, overall accuracy ``oa`` and Cohen's ``kappa``, as fractions.
    """
    confusion = confusion.astype(np.float64)
    (tn, fp), (fn, tp) = confusion
    total = confusion.sum()
    precision = _ratio(tp, tp + fp)
    recall = _ratio(tp, tp + fn)
    oa = _ratio(tp + tn, total)
    # Agreement expected by chance from the marginals of both maps.
    expected = _ratio(confusion.sum(0) @ confusion.sum(1), total * total)
    return OrderedDict(
        precision=precision,
        recall=recall,
        f1=_ratio(2 * precision * recall, precision + recall),
        iou=_ratio(tp, tp + fp + fn),
        oa=oa,
        kappa=_ratio(oa - expected, 1 - expected))


@METRICS.register_module()
class ChangeMetric(BaseMetric):
    """Precision, recall, F1 and IoU of the change class, overall accuracy and
    Cohen's kappa, over a whole split.

    Pixels are counted into one confusion matrix for the split and the scores
    computed once from it, as change-detection papers report them (a mean of
    per-image scores would weigh a pair with three changed pixels as much as
    one with thirty thousand). Scores are reported in percent, as mmseg's
    metrics are: keys ``precision``, ``recall``, ``f1``, ``iou``, ``oa``,
    ``kappa``. A score whose denominator is empty (no change predicted, for
    precision) is 0, as scikit-learn's ``zero_division=0`` gives.

    The data samples are mmseg's: ``pred_sem_seg`` a 0/1 change map and
    ``gt_sem_seg`` the 0/1 label, where ``ignore_index`` marks pixels that
    count nowhere (padding, say).

    Args:
        ignore_index (int): Label value to skip. Defaults to 255.
        collect_device (str): Device for gathering results across ranks.
            Defaults to 'cpu'.
        prefix (str, optional): Prefix of the metric names. Defaults to None.
    """

    def __init__(self,
                 ignore_index: int = 255,
                 collect_device: str = 'cpu',
                 prefix=None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.ignore_index = ignore_index

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            pred = sample['pred_sem_seg']['data'].squeeze()
            label = sample['gt_sem_seg']['data'].squeeze().to(pred.device)
            if pred.shape != label.shape:
                raise ValueError(
                    f'{sample.get("img_path")}: prediction {tuple(pred.shape)}'
                    f' and label {tuple(label.shape)} differ in shape')
            keep = label != self.ignore_index
            pred, label = pred[keep].long(), label[keep].long()
            for name, values in (('prediction', pred), ('label', label)):
                bad = values[(values < 0) | (values > 1)]
                if bad.numel():
                    raise ValueError(
                        f'{sample.get("img_path")}: the {name} holds values '
                        f'other than 0 (unchanged) and 1 (changed): '
                        f'{torch.unique(bad)[:10].tolist()}')
            counts = torch.bincount(2 * label + pred, minlength=4)
            self.results.append(counts.reshape(2, 2).cpu().numpy())

    def compute_metrics(self, results: list) -> Dict[str, float]:
        confusion = np.sum(results, axis=0) if results else np.zeros((2, 2))
        scores = change_scores(confusion)
        (tn, fp), (fn, tp) = confusion.tolist()
        MMLogger.get_current_instance().info(
            f'change confusion (pixels): TP {tp}, FP {fp}, FN {fn}, TN {tn}')
        return OrderedDict((key, value * 100) for key, value in scores.items())
