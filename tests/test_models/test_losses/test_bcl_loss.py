"""BCLLoss against a hand-worked example."""
import pytest
import torch

from mmzoo.models.losses import BCLLoss


def test_hand_worked_example():
    # distances      labels (1 change, 0 no change, 255 ignored)
    #  0.5  1.0        0    1
    #  3.0  1.5        1  255
    # unchanged: one pixel, d = 0.5: 0.5² = 0.25, over n_u = 1 (+1e-4)
    #   -> 0.25 / 1.0001 = 0.249975...
    # changed: d = 1.0 -> max(0, 2 - 1)² = 1; d = 3.0 -> max(0, -1)² = 0;
    #   sum 1 over n_c = 2 (+1e-4) -> 1 / 2.0001 = 0.499975...
    # the ignored 1.5 counts nowhere. Total 0.749950...
    distance = torch.tensor([[[[0.5, 1.0], [3.0, 1.5]]]], requires_grad=True)
    label = torch.tensor([[[[0, 1], [1, 255]]]])
    loss = BCLLoss(margin=2.0)(distance, label)
    assert loss.item() == pytest.approx(0.25 / 1.0001 + 1 / 2.0001, rel=1e-6)
    loss.backward()
    # d/dd of d²/n_u = 2·0.5/1.0001; of (2 - d)²/n_c = -2·(2 - 1)/2.0001;
    # zero beyond the margin and where ignored.
    expected = torch.tensor([[[[1 / 1.0001, -2 / 2.0001], [0.0, 0.0]]]])
    torch.testing.assert_close(distance.grad, expected)


def test_batch_without_changes_costs_only_the_pull():
    distance = torch.full((1, 1, 2, 2), 2.0)
    label = torch.zeros(1, 1, 2, 2, dtype=torch.long)
    # 4 pixels of d² = 4 over 4 (+1e-4); the empty change term is 0.
    assert BCLLoss()(distance, label).item() == pytest.approx(
        16 / 4.0001, rel=1e-6)


def test_loss_weight_scales():
    distance = torch.tensor([[0.5, 1.0]])
    label = torch.tensor([[0, 1]])
    assert BCLLoss(loss_weight=3.0)(distance, label).item() == \
        pytest.approx(3 * BCLLoss()(distance, label).item())


def test_bad_labels_and_shapes_are_named():
    with pytest.raises(ValueError, match=r'found \[2\]'):
        BCLLoss()(torch.zeros(1, 2), torch.tensor([[0, 2]]))
    with pytest.raises(ValueError, match='one shape'):
        BCLLoss()(torch.zeros(1, 2), torch.zeros(1, 3))
