"""ClsLossWarmupHook: the classification loss is off for the first
``start_epoch`` epochs and on from then, as the official ``epoch <=
startpoint`` with epochs counted from 1 (github llmir/MultitaskOCTA,
train_seg_clf.py)."""
import logging
from types import SimpleNamespace

import pytest
import torch.nn as nn
from mmengine.runner import EpochBasedTrainLoop, IterBasedTrainLoop

from mmzoo.engine.hooks import ClsLossWarmupHook


class Model(nn.Module):
    train_cls = True


def fake_runner(model, loop_type=EpochBasedTrainLoop):
    return SimpleNamespace(
        model=model,
        epoch=0,
        logger=logging.getLogger('test'),
        train_loop=loop_type.__new__(loop_type))


def test_switches_on_after_the_warm_up():
    hook, model = ClsLossWarmupHook(start_epoch=60), Model()
    runner = fake_runner(model)
    hook.before_train(runner)
    on = []
    for epoch in range(62):
        runner.epoch = epoch
        hook.before_train_epoch(runner)
        on.append(model.train_cls)
    # Official epochs 1-60 (ours 0-59) segmentation only; 61 on, joint.
    assert on == [False] * 60 + [True] * 2


def test_resume_inside_and_after_the_warm_up():
    hook, model = ClsLossWarmupHook(start_epoch=3), Model()
    runner = fake_runner(model)
    for epoch, expected in ((2, False), (5, True), (1, False)):
        runner.epoch = epoch
        hook.before_train_epoch(runner)
        assert model.train_cls is expected


def test_zero_start_trains_from_the_first_epoch():
    hook, model = ClsLossWarmupHook(start_epoch=0), Model()
    model.train_cls = False
    hook.before_train_epoch(fake_runner(model))
    assert model.train_cls


def test_refuses_iteration_loops_and_other_models():
    hook = ClsLossWarmupHook()
    with pytest.raises(ValueError, match='epoch-based'):
        hook.before_train(fake_runner(Model(), IterBasedTrainLoop))
    with pytest.raises(TypeError, match='Linear has no train_cls'):
        hook.before_train(fake_runner(nn.Linear(1, 1)))
    with pytest.raises(ValueError, match='negative'):
        ClsLossWarmupHook(start_epoch=-1)
