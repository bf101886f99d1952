"""PSNR, SSIM and NMSE per volume for joint reconstruction and SR."""
from collections import OrderedDict, defaultdict
from typing import Dict, Sequence

import numpy as np
import torch
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger

from mmzoo.datasets.transforms.kspace import bicubic_upsample
from mmzoo.evaluation.functional import nmse, psnr, ssim
from mmzoo.registry import METRICS

# The prediction and target of each scored output; the baselines come
# from the zero-filled input.
BRANCHES = OrderedDict(
    sr=('pred_sr', 'gt_hr'),
    recon=('pred_recon', 'gt_lr'),
    zf_bicubic=('zero_filled', 'gt_hr'),
    zf=('zero_filled', 'gt_lr'))


def _image(sample: dict, key: str) -> np.ndarray:
    value = sample[key]
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    value = np.asarray(value, np.float64)
    if value.ndim == 3 and value.shape[0] == 1:
        value = value[0]
    if value.ndim != 2:
        raise ValueError(f'{sample.get("img_path")} slice '
                         f'{sample.get("slice_index")}: {key} must be '
                         f'(1, H, W) or (H, W), got shape {value.shape}')
    return value


@METRICS.register_module()
class ReconstructionMetric(BaseMetric):
    """PSNR, SSIM and NMSE of T2Net's two outputs, per volume.

    As the official T2Net evaluation (github chunmeifeng/T2Net,
    ``fastmri/mri_ixi_module_t2net.py``): a volume's slices are stacked in
    slice order (each slice once), scored with fastMRI's definitions
    (:mod:`mmzoo.evaluation.functional.reconstruction`: data range the
    volume's ground-truth maximum, SSIM the mean over slices), and the
    scores averaged over volumes. Images are first brought back to the
    data's units with the slice's ``norm_mean`` and ``norm_std``, as the
    official code scores ``output * std + mean``.

    Slices are grouped by ``volume_id`` only in :meth:`compute_metrics`,
    after mmengine has collected every rank's results, so a volume whose
    slices were spread over several processes is scored whole, and a slice
    the distributed sampler repeated counts once.

    Keys: ``sr_psnr``, ``sr_ssim``, ``sr_nmse`` (``pred_sr`` against
    ``gt_hr``), ``recon_psnr``, ``recon_ssim``, ``recon_nmse``
    (``pred_recon`` against ``gt_lr``) and, with ``baseline``, the same for
    ``zf_bicubic`` (the zero-filled input upsampled by
    :func:`~mmzoo.datasets.transforms.kspace.bicubic_upsample`, against
    ``gt_hr``) and ``zf`` (the zero-filled input against ``gt_lr``).

    Args:
        baseline (bool): Also score the zero-filled input. Defaults to False.
        collect_device (str): Device for gathering results across ranks.
            Defaults to 'cpu'.
        prefix (str, optional): Prefix of the metric names. Defaults to None.
    """

    def __init__(self,
                 baseline: bool = False,
                 collect_device: str = 'cpu',
                 prefix=None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.baseline = baseline
        self.branches = list(BRANCHES)[:4 if baseline else 2]

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            mean, std = sample['norm_mean'], sample['norm_std']
            images = {}
            for branch in self.branches:
                pred_key, gt_key = BRANCHES[branch]
                pred = _image(sample, pred_key)
                if branch == 'zf_bicubic':
                    pred = bicubic_upsample(pred, sample['scale'])
                gt = _image(sample, gt_key)
                if pred.shape != gt.shape:
                    raise ValueError(
                        f'{sample.get("img_path")} slice '
                        f'{sample.get("slice_index")}: {pred_key} '
                        f'{pred.shape} and {gt_key} {gt.shape} differ')
                images[branch] = ((pred * std + mean).astype(np.float32),
                                  (gt * std + mean).astype(np.float32))
            # The images themselves are kept, not per-slice scores: SSIM's
            # data range is the whole volume's maximum, known only once every
            # slice has arrived.
            self.results.append(
                dict(
                    volume_id=sample['volume_id'],
                    slice_index=int(sample['slice_index']),
                    images=images))

    def compute_metrics(self, results: list) -> Dict[str, float]:
        volumes = defaultdict(dict)
        for result in results:
            volumes[result['volume_id']][
                result['slice_index']] = result['images']
        scores = defaultdict(list)
        for slices in volumes.values():
            ordered = [slices[index] for index in sorted(slices)]
            for branch in self.branches:
                pred = np.stack([images[branch][0] for images in ordered])
                gt = np.stack([images[branch][1] for images in ordered])
                scores[f'{branch}_psnr'].append(psnr(gt, pred))
                scores[f'{branch}_ssim'].append(ssim(gt, pred))
                scores[f'{branch}_nmse'].append(nmse(gt, pred))
        MMLogger.get_current_instance().info(
            f'reconstruction scores over {len(volumes)} volumes, '
            f'{sum(map(len, volumes.values()))} slices')
        return OrderedDict(
            (key, float(np.mean(values))) for key, values in scores.items())
