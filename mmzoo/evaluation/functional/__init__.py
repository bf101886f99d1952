"""Metric functions on numpy arrays, for use outside mmengine's evaluator."""
from .faz_biomarkers import FAZBiomarkers, faz_biomarkers
from .reconstruction import nmse, psnr, ssim
from .surface_distance import (assd, dice, hd95, jaccard, surface_distances,
                               surface_scores)

__all__ = [
    'FAZBiomarkers', 'assd', 'dice', 'faz_biomarkers', 'hd95', 'jaccard',
    'surface_distances', 'surface_scores', 'psnr', 'ssim', 'nmse'
]
