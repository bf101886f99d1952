"""Batch-balanced contrastive loss.

Chen and Shi, "A Spatial-Temporal Attention-Based Method and a New Dataset for
Remote Sensing Image Change Detection", Remote Sensing 2020, Eq. (8); official
code github justchenhao/STANet, models/loss.py.
"""
import torch
import torch.nn as nn

from mmzoo.registry import MODELS


@MODELS.register_module()
class BCLLoss(nn.Module):
    """Contrastive loss on a feature-distance map, each class term normalised
    by its own pixel count in the batch.

    .. math::
        L = \\frac{1}{n_u}\\sum_{\\text{unchanged}} d^2
          + \\frac{1}{n_c}\\sum_{\\text{changed}} \\max(0, m - d)^2

    Unchanged pixels are pulled together, changed ones pushed at least the
    margin ``m`` apart; balancing the two terms by their counts keeps the
    rare change class from being swamped. Both counts carry the official
    ``1e-4`` so that a batch without one class gives a zero term.

    The official loss maps the padding label 255 to "unchanged" (its
    rotation fill then pulls features together); here pixels labelled
    ``ignore_index`` count in neither term.

    Args:
        margin (float): Distance beyond which changed pixels cost nothing.
            Default: 2.0.
        ignore_index (int): Label of pixels to leave out. Default: 255.
        loss_weight (float): Factor on the loss. Default: 1.0.
        loss_name (str): Key of the loss in the loss dict; mmengine sums
            keys that contain ``loss``. Default: 'loss_bcl'.
    """

    def __init__(self,
                 margin: float = 2.0,
                 ignore_index: int = 255,
                 loss_weight: float = 1.0,
                 loss_name: str = 'loss_bcl') -> None:
        super().__init__()
        if margin <= 0:
            raise ValueError(f'margin must be positive, got {margin}')
        self.margin = margin
        self.ignore_index = ignore_index
        self.loss_weight = loss_weight
        self._loss_name = loss_name

    @property
    def loss_name(self) -> str:
        return self._loss_name

    def forward(self, distance: torch.Tensor,
                label: torch.Tensor) -> torch.Tensor:
        """
        Args:
            distance (Tensor): Feature distances, (N, 1, H, W) or (N, H, W).
            label (Tensor): 1 = change, 0 = no change, ``ignore_index`` =
                left out; the shape of ``distance``.
        """
        if distance.shape != label.shape:
            raise ValueError(
                f'BCLLoss: distance {tuple(distance.shape)} and label '
                f'{tuple(label.shape)} must have one shape')
        valid = label != self.ignore_index
        bad = valid & (label != 0) & (label != 1)
        if bad.any():
            raise ValueError(
                'BCLLoss: labels must be 0 (no change), 1 (change) or '
                f'{self.ignore_index} (ignored); found '
                f'{label[bad].unique().tolist()}')
        changed = (label == 1).to(distance.dtype)
        unchanged = (valid & (label == 0)).to(distance.dtype)
        pull = (unchanged * distance.pow(2)).sum() / (unchanged.sum() + 1e-4)
        push = (changed * (self.margin - distance).clamp(min=0).pow(2)).sum() \
            / (changed.sum() + 1e-4)
        return self.loss_weight * (pull + push)
