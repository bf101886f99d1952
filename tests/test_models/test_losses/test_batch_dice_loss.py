"""BatchDiceLoss against a hand-worked example and against the definition of
segmentation_models_pytorch's ``utils.losses.DiceLoss`` (eps 1), which BSDA-
Net's official code trains with."""
import numpy as np
import pytest
import torch

from mmzoo.models.losses import BatchDiceLoss


def test_hand_worked_example():
    # p·g sums to 1 + 0.5 = 1.5, p to 2, g to 2:
    # Dice = (2·1.5 + 1) / (2 + 2 + 1) = 0.8.
    prob = torch.tensor([[[1.0, 0.0], [0.5, 0.5]]])
    target = torch.tensor([[[1.0, 0.0], [1.0, 0.0]]])
    loss = BatchDiceLoss(use_sigmoid=False)(prob, target)
    assert loss.item() == pytest.approx(0.2)
    weighted = BatchDiceLoss(use_sigmoid=False, loss_weight=3.0)
    assert weighted(prob, target).item() == pytest.approx(0.6)


def test_whole_batch_not_per_image():
    """smp's f_score sums over the batch: one empty image with an empty
    prediction does not count as a perfect Dice of its own."""
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(4, 1, 5, 6))
    target = (rng.random((4, 1, 5, 6)) > 0.6).astype(np.float32)
    target[1] = 0
    p = 1 / (1 + np.exp(-logits))
    tp = (p * target).sum()
    fp, fn = p.sum() - tp, target.sum() - tp
    expected = 1 - (2 * tp + 1) / (2 * tp + fn + fp + 1)
    loss = BatchDiceLoss()(torch.tensor(logits), torch.tensor(target))
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    per_image = np.mean([
        1 - (2 * (p[i] * target[i]).sum() + 1) /
        (p[i].sum() + target[i].sum() + 1) for i in range(4)
    ])
    assert abs(loss.item() - per_image) > 1e-3


def test_weight_leaves_pixels_out():
    prob = torch.tensor([[0.9, 0.2, 0.7]])
    target = torch.tensor([[1.0, 0.0, 0.0]])
    weight = torch.tensor([[1.0, 1.0, 0.0]])
    loss = BatchDiceLoss(use_sigmoid=False)
    assert loss(prob, target, weight).item() == pytest.approx(
        loss(prob[:, :2], target[:, :2]).item())


def test_shape_mismatch_is_named():
    with pytest.raises(ValueError, match=r'\(1, 3\).*\(1, 4\)'):
        BatchDiceLoss()(torch.zeros(1, 3), torch.zeros(1, 4))
