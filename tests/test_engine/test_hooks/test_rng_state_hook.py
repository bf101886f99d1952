"""RNGStateHook against the generators themselves: after a resume they draw
what the interrupted run would have drawn next.

The whole training round
trip is tests/test_engine/test_checkpoint.py::test_resume_continues_exactly.
"""
import random
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from mmengine.runner import EpochBasedTrainLoop, IterBasedTrainLoop

from mmzoo.engine import RNGStateHook


@pytest.fixture(autouse=True)
def generators():
    """Give the process its generators back: these tests move them."""
    states = torch.get_rng_state(), np.random.get_state(), random.getstate()
    yield
    torch.set_rng_state(states[0])
    np.random.set_state(states[1])
    random.setstate(states[2])


def fake_runner(loop_type, resume=True):
    """What the hook reads of mmengine's Runner: whether it resumes, and the
    type of its training loop."""
    return SimpleNamespace(
        _resume=resume, train_loop=loop_type.__new__(loop_type))


def draw():
    return (torch.rand(3).tolist(), np.random.rand(3).tolist(),
            [random.random() for _ in range(3)])


def saved_checkpoint():
    """A checkpoint the hook filled, and what the generators drew next."""
    checkpoint = {}
    RNGStateHook().before_save_checkpoint(
        fake_runner(EpochBasedTrainLoop), checkpoint)
    return checkpoint, draw()


def test_epoch_loop_resumes_every_generator():
    checkpoint, expected = saved_checkpoint()
    draw()  # the interrupted run went on
    hook, runner = RNGStateHook(), fake_runner(EpochBasedTrainLoop)
    hook.after_load_checkpoint(runner, checkpoint)
    hook.before_train_epoch(runner)
    assert draw() == expected


def test_iteration_loop_resumes_torch_alone_at_the_first_iteration():
    """The iteration loop's data replay re-draws the numpy and python numbers
    itself: only torch's generator is restored, once, when the first resumed
    iteration starts."""
    checkpoint, expected = saved_checkpoint()
    draw()
    hook, runner = RNGStateHook(), fake_runner(IterBasedTrainLoop)
    hook.after_load_checkpoint(runner, checkpoint)
    torch_state = torch.get_rng_state()
    hook.before_train_epoch(runner)
    assert torch.equal(torch.get_rng_state(), torch_state)
    numpy_state = np.random.get_state()[1].copy()
    python_state = random.getstate()
    hook.before_train_iter(runner, 0)
    assert torch.rand(3).tolist() == expected[0]
    np.testing.assert_array_equal(np.random.get_state()[1], numpy_state)
    assert random.getstate() == python_state
    torch_state = torch.get_rng_state()
    hook.before_train_iter(runner, 1)
    assert torch.equal(torch.get_rng_state(), torch_state)


def test_loading_weights_without_resuming_restores_nothing():
    checkpoint, _ = saved_checkpoint()
    draw()
    hook = RNGStateHook()
    for loop_type in (EpochBasedTrainLoop, IterBasedTrainLoop):
        runner = fake_runner(loop_type, resume=False)
        hook.after_load_checkpoint(runner, checkpoint)
        states = torch.get_rng_state(), np.random.get_state()[1].copy()
        hook.before_train_epoch(runner)
        hook.before_train_iter(runner, 0)
        assert torch.equal(torch.get_rng_state(), states[0])
        np.testing.assert_array_equal(np.random.get_state()[1], states[1])
