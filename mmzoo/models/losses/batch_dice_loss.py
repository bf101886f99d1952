"""Soft Dice loss over the whole batch, as BSDA-Net's official code uses it.

Lin et al., "BSDA-Net: A Boundary Shape and Distance Aware Joint Learning
Framework for Segmenting and Classifying OCTA Images", MICCAI 2021; official
code github llmir/MultitaskOCTA, losses.py ``My_multiLoss``, which takes
segmentation_models_pytorch's ``utils.losses.DiceLoss`` (``eps=1``).
"""
from typing import Optional

import torch
import torch.nn as nn

from mmzoo.registry import MODELS


@MODELS.register_module()
class BatchDiceLoss(nn.Module):
    """One minus the smoothed soft Dice of the whole batch, one foreground
    class.

    .. math::
        L = 1 - \\frac{2\\sum p g + s}{\\sum p + \\sum g + s}

    with the sums over every pixel of every image of the batch at once
    (not a mean of per-image Dice, as mmseg's ``DiceLoss`` computes) and
    the smoothing ``s`` in numerator and denominator (mmseg's has its
    ``eps`` in the denominator only, or in both with ``naive_dice``, but
    per image).

    Args:
        use_sigmoid (bool): Apply the sigmoid to the predictions (logits);
            False takes probabilities. Default: True.
        smooth (float): The smoothing ``s``. Default: 1.0, the official.
        loss_weight (float): Factor on the loss. Default: 1.0.
    """

    def __init__(self,
                 use_sigmoid: bool = True,
                 smooth: float = 1.0,
                 loss_weight: float = 1.0) -> None:
        super().__init__()
        if smooth < 0:
            raise ValueError(f'smooth must not be negative, got {smooth}')
        self.use_sigmoid = use_sigmoid
        self.smooth = smooth
        self.loss_weight = loss_weight

    def forward(self,
                pred: torch.Tensor,
                target: torch.Tensor,
                weight: Optional[torch.Tensor] = None) -> torch.Tensor:
        """
        Args:
            pred (Tensor): Logits (or probabilities), any shape.
            target (Tensor): Foreground 1, background 0, the same shape.
            weight (Tensor, optional): Per-pixel weight, the same shape; 0
                leaves a pixel out.
        """
        if pred.shape != target.shape:
            raise ValueError(f'BatchDiceLoss: prediction {tuple(pred.shape)}'
                             f' and target {tuple(target.shape)} differ')
        prob = pred.sigmoid() if self.use_sigmoid else pred
        target = target.to(prob.dtype)
        if weight is not None:
            prob, target = prob * weight, target * weight
        inter = (prob * target).sum()
        dice = (2 * inter + self.smooth) / (
            prob.sum() + target.sum() + self.smooth)
        return self.loss_weight * (1 - dice)
