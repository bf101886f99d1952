"""FAZ segmentation and diagnosis scores of OCTA images, as BSDA-Net reports
them."""
import math
from collections import OrderedDict
from typing import Dict, Sequence

import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger

from mmzoo.evaluation.functional import dice, jaccard, surface_scores
from mmzoo.registry import METRICS


def _ratio(numerator: float, denominator: float) -> float:
    # An empty denominator (a class never predicted, for its precision)
    # scores 0, as scikit-learn's zero_division=0 gives.
    return float(numerator / denominator) if denominator else 0.0


def _binary_mask(pixel_data, name: str, what: str) -> np.ndarray:
    mask = pixel_data['data'].squeeze(0).cpu().numpy()
    if mask.ndim != 2:
        raise ValueError(f'{name}: the {what} has shape {mask.shape}; an '
                         'H x W FAZ mask was expected')
    bad = np.setdiff1d(np.unique(mask), [0, 1])
    if bad.size:
        raise ValueError(f'{name}: the {what} holds values other than 0 '
                         f'(background) and 1 (FAZ): {bad[:10].tolist()}')
    return mask.astype(bool)


def classification_scores(confusion: np.ndarray) -> Dict[str, object]:
    """Accuracy, Cohen's kappa and per-class precision and recall from a
    confusion matrix (rows the true class, columns the predicted), as
    fractions; kappa is ``nan`` where chance agreement is already perfect (one
    class in both truth and prediction), as scikit-learn gives."""
    confusion = confusion.astype(np.float64)
    total = confusion.sum()
    hits = np.diag(confusion)
    accuracy = _ratio(hits.sum(), total)
    expected = _ratio(confusion.sum(0) @ confusion.sum(1), total * total)
    kappa = ((accuracy - expected) /
             (1 - expected) if expected != 1 else math.nan)
    precision = [_ratio(h, n) for h, n in zip(hits, confusion.sum(0))]
    recall = [_ratio(h, n) for h, n in zip(hits, confusion.sum(1))]
    return dict(
        accuracy=accuracy, kappa=kappa, precision=precision, recall=recall)


@METRICS.register_module()
class OCTAMetric(BaseMetric):
    """FAZ segmentation and eye diagnosis scores over a split.

    Segmentation, per image and then averaged over the images, as BSDA-Net's
    evaluation does (Lin et al., MICCAI 2021; github llmir/MultitaskOCTA,
    ``evaluate.py``): ``Dice`` and ``Jaccard`` in percent, ``HD95`` and
    ``ASSD`` in millimetres, measured with the sample's ``pixel_spacing``
    (mm per pixel of the original image, where the prediction is compared
    with the mask; the official evaluation reports pixels). The distances
    follow :mod:`mmzoo.evaluation.functional.surface_distance`: an image
    whose prediction and mask are both empty scores 0; one where exactly one
    of them is empty has no finite distance and is left out of the HD95 and
    ASSD means, counted in ``surface_excluded`` and named in a warning.

    Diagnosis, over the split: ``accuracy``, Cohen's ``kappa``, and
    ``precision_<class>`` and ``recall_<class>`` for every name in
    ``dataset_meta['diagnosis_classes']`` (class index order), in percent (a
    class never predicted has precision 0, as scikit-learn's
    ``zero_division=0``); ``confusion_matrix``, counts with rows the true
    class and columns the predicted, also logged as a table with the class
    names. Samples without ``gt_class`` or ``pred_class`` count only for
    segmentation, and samples without ``gt_sem_seg`` only for diagnosis; the
    keys of a task no sample has are left out.

    The data samples are mmseg's, as ``mmzoo.BSDANet`` returns them:
    ``pred_sem_seg`` and ``gt_sem_seg`` 0/1 masks (1 x H x W), ``pred_class``
    and ``gt_class`` class indices, and metainfo ``pixel_spacing`` (a number
    or ``(sy, sx)``) and ``img_path``.

    Args:
        collect_device (str): Device for gathering results across ranks.
            Defaults to 'cpu'.
        prefix (str, optional): Prefix of the metric names. Defaults to None.
    """

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            name = sample.get('img_path', 'a sample without img_path')
            result = dict(img_path=name)
            if 'gt_sem_seg' in sample:
                result.update(self._segmentation(sample, name))
            if 'gt_class' in sample and 'pred_class' in sample:
                result.update(
                    gt_class=int(sample['gt_class']),
                    pred_class=int(sample['pred_class']))
            self.results.append(result)

    @staticmethod
    def _segmentation(sample: dict, name: str) -> dict:
        if 'pred_sem_seg' not in sample:
            raise KeyError(f'{name}: the sample has gt_sem_seg but no '
                           'pred_sem_seg to compare it with')
        if sample.get('pixel_spacing') is None:
            raise KeyError(
                f'{name}: no pixel_spacing in the metainfo; the dataset '
                'must give the size of a pixel in mm for HD95 and ASSD')
        pred = _binary_mask(sample['pred_sem_seg'], name, 'prediction')
        gt = _binary_mask(sample['gt_sem_seg'], name, 'ground truth')
        if pred.shape != gt.shape:
            raise ValueError(
                f'{name}: the prediction is {pred.shape} and the ground '
                f'truth {gt.shape}; the prediction must be restored to the '
                'original size and the mask loaded after any resizing')
        hd95, assd = surface_scores(pred, gt, sample['pixel_spacing'])
        return dict(
            dice=dice(pred, gt),
            jaccard=jaccard(pred, gt),
            hd95=hd95,
            assd=assd)

    def compute_metrics(self, results: list) -> Dict[str, object]:
        metrics = OrderedDict()
        segmented = [r for r in results if 'dice' in r]
        if segmented:
            metrics.update(self._segmentation_metrics(segmented))
        classified = [r for r in results if 'gt_class' in r]
        if classified:
            metrics.update(self._classification_metrics(classified))
        return metrics

    @staticmethod
    def _segmentation_metrics(results: list) -> dict:
        finite = [r for r in results if math.isfinite(r['hd95'])]
        excluded = [
            r['img_path'] for r in results if not math.isfinite(r['hd95'])
        ]
        if excluded:
            MMLogger.get_current_instance().warning(
                f'HD95 and ASSD leave out {len(excluded)} image(s) where '
                'exactly one of prediction and ground truth is empty: '
                f'{", ".join(map(str, excluded[:10]))}'
                f'{" ..." if len(excluded) > 10 else ""}')

        def mean(key, subset):
            return float(np.mean([r[key] for r in subset])) if subset \
                else math.nan

        return OrderedDict(
            Dice=100 * mean('dice', results),
            Jaccard=100 * mean('jaccard', results),
            HD95=mean('hd95', finite),
            ASSD=mean('assd', finite),
            surface_excluded=len(excluded))

    def _classification_metrics(self, results: list) -> dict:
        names = (self.dataset_meta or {}).get('diagnosis_classes')
        if not names:
            raise KeyError('OCTAMetric needs diagnosis_classes in the '
                           "dataset's metainfo to name the diagnosis classes")
        names = list(names)
        confusion = np.zeros((len(names), len(names)), np.int64)
        for r in results:
            for key in ('gt_class', 'pred_class'):
                if not 0 <= r[key] < len(names):
                    raise ValueError(
                        f'{r["img_path"]}: {key} {r[key]} is not one of the '
                        f'{len(names)} diagnosis classes {names}')
            confusion[r['gt_class'], r['pred_class']] += 1
        scores = classification_scores(confusion)
        metrics = OrderedDict(
            accuracy=100 * scores['accuracy'], kappa=100 * scores['kappa'])
        for name, precision, recall in zip(names, scores['precision'],
                                           scores['recall']):
            metrics[f'precision_{name}'] = 100 * precision
            metrics[f'recall_{name}'] = 100 * recall
        metrics['confusion_matrix'] = confusion
        width = max(len(n) for n in names + ['true \\ predicted'])
        rows = [
            'true \\ predicted'.ljust(width) +
            ''.join(f'{n:>{max(len(n), 6) + 1}}' for n in names)
        ]
        for name, counts in zip(names, confusion):
            rows.append(
                name.ljust(width) + ''.join(f'{c:>{max(len(n), 6) + 1}}'
                                            for n, c in zip(names, counts)))
        MMLogger.get_current_instance().info('diagnosis confusion matrix:\n' +
                                             '\n'.join(rows))
        return metrics
