"""ReconstructionMetric scores whole volumes as the official T2Net code does,
whatever order or rank the slices come from."""
import numpy as np
import pytest
import torch
from mmengine.structures import BaseDataElement
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from mmzoo.datasets.transforms.kspace import bicubic_upsample
from mmzoo.evaluation import ReconstructionMetric


def make_samples(seed=0, volumes=(('a', 3), ('b', 2))):
    """Data samples as the evaluator passes them (``to_dict()``), with the de-
    normalised images each holds."""
    rng = np.random.default_rng(seed)
    samples, images = [], {}
    for volume_id, num_slices in volumes:
        for index in range(num_slices):
            mean, std = rng.uniform(50, 100), rng.uniform(10, 30)
            gt_hr = rng.uniform(0, 3, (16, 16))
            gt_lr = rng.uniform(0, 3, (8, 8))
            fields = dict(
                gt_hr=gt_hr,
                gt_lr=gt_lr,
                zero_filled=gt_lr + rng.normal(0, 0.5, (8, 8)),
                pred_sr=gt_hr + rng.normal(0, 0.2, (16, 16)),
                pred_recon=gt_lr + rng.normal(0, 0.1, (8, 8)))
            sample = BaseDataElement(
                metainfo=dict(
                    volume_id=volume_id,
                    slice_index=10 * index,
                    img_path=f'{volume_id}.nii.gz',
                    scale=2,
                    norm_mean=mean,
                    norm_std=std),
                **{
                    key: torch.from_numpy(value.astype(np.float32))[None]
                    for key, value in fields.items()
                })
            samples.append(sample.to_dict())
            images[(volume_id, index)] = {
                key: value.astype(np.float32).astype(np.float64) * std + mean
                for key, value in fields.items()
            }
    return samples, images


def expected_scores(images, pred_key, gt_key, upsample=False):
    """Per-volume PSNR and SSIM with scikit-image, averaged over volumes."""
    psnrs, ssims = [], []
    for volume_id in sorted({v for v, _ in images}):
        indices = sorted(i for v, i in images if v == volume_id)
        slices = [images[(volume_id, i)] for i in indices]
        gt = np.stack([s[gt_key] for s in slices])
        pred = np.stack([
            bicubic_upsample(s[pred_key], 2) if upsample else s[pred_key]
            for s in slices
        ])
        psnrs.append(peak_signal_noise_ratio(gt, pred, data_range=gt.max()))
        ssims.append(
            np.mean([
                structural_similarity(g, p, data_range=gt.max())
                for g, p in zip(gt, pred)
            ]))
    return np.mean(psnrs), np.mean(ssims)


def evaluate(metric, batches):
    for batch in batches:
        metric.process({}, batch)
    return metric.evaluate(sum(map(len, batches)))


def test_scores_are_per_volume_means_in_the_data_units():
    samples, images = make_samples()
    scores = evaluate(ReconstructionMetric(), [samples])
    assert set(scores) == {
        'sr_psnr', 'sr_ssim', 'sr_nmse', 'recon_psnr', 'recon_ssim',
        'recon_nmse'
    }
    for branch, (pred_key, gt_key) in dict(
            sr=('pred_sr', 'gt_hr'), recon=('pred_recon', 'gt_lr')).items():
        psnr, ssim = expected_scores(images, pred_key, gt_key)
        assert scores[f'{branch}_psnr'] == pytest.approx(psnr, rel=1e-5)
        assert scores[f'{branch}_ssim'] == pytest.approx(ssim, rel=1e-5)
    # NMSE of volume 'b', of the SR branch, by hand.
    error = sum(
        np.sum((images[('b', i)]['pred_sr'] - images[('b', i)]['gt_hr'])**2)
        for i in range(2))
    energy = sum(np.sum(images[('b', i)]['gt_hr']**2) for i in range(2))
    metric = ReconstructionMetric()
    nmse_b = evaluate(metric, [samples[3:]])['sr_nmse']
    assert nmse_b == pytest.approx(error / energy, rel=1e-5)


def test_baseline_scores_the_zero_filled_input():
    samples, images = make_samples(1)
    scores = evaluate(ReconstructionMetric(baseline=True), [samples])
    psnr, ssim = expected_scores(images, 'zero_filled', 'gt_hr', upsample=True)
    assert scores['zf_bicubic_psnr'] == pytest.approx(psnr, rel=1e-5)
    assert scores['zf_bicubic_ssim'] == pytest.approx(ssim, rel=1e-5)
    psnr, ssim = expected_scores(images, 'zero_filled', 'gt_lr')
    assert scores['zf_psnr'] == pytest.approx(psnr, rel=1e-5)
    assert scores['zf_ssim'] == pytest.approx(ssim, rel=1e-5)


def test_slices_spread_over_ranks_and_repeated_are_scored_once():
    samples, _ = make_samples(2)
    whole = evaluate(ReconstructionMetric(baseline=True), [samples])
    # Two ranks each see every other slice; mmengine's collect_results
    # interleaves their results, and the sampler pads rank 1 with a repeat
    # of the first slice.
    rank0 = ReconstructionMetric(baseline=True)
    rank1 = ReconstructionMetric(baseline=True)
    rank0.process({}, samples[0::2])
    rank1.process({}, samples[1::2] + samples[:1])
    collected = [r for pair in zip(rank0.results, rank1.results) for r in pair]
    scores = rank0.compute_metrics(collected)
    assert scores == pytest.approx(whole, rel=1e-12)
    reversed_order = evaluate(
        ReconstructionMetric(baseline=True), [samples[::-1]])
    assert reversed_order == pytest.approx(whole, rel=1e-12)


def test_mismatched_prediction_is_refused_naming_the_slice():
    samples, _ = make_samples()
    samples[0]['pred_sr'] = samples[0]['pred_sr'][:, :8]
    with pytest.raises(ValueError, match='a.nii.gz slice 0: pred_sr'):
        ReconstructionMetric().process({}, samples[:1])
