import random
from typing import Optional

import numpy as np
import torch
from mmengine.hooks import Hook
from mmengine.runner import IterBasedTrainLoop

from mmzoo.registry import HOOKS


@HOOKS.register_module()
class RNGStateHook(Hook):
    """Store random-number-generator states in checkpoints and restore them on
    resume, so that a resumed run continues exactly as an uninterrupted one
    would.

    mmengine restores weights, optimizer, schedulers and the data order, but
    not the generators behind dropout, drop path or random augmentation.

    - Epoch-based loops: every generator is restored before the resumed
      epoch's data loader starts.
    - Iteration-based loops replay the data loader up to the resumed
      iteration, which re-draws the augmentation's numpy and python random
      numbers exactly as the interrupted run drew them; only torch's
      generators (dropout, drop path, samplers inside the model) are
      restored, just before the first resumed iteration runs the model.
    """

    priority = 'VERY_LOW'

    def __init__(self) -> None:
        self._pending: Optional[dict] = None

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        state = dict(
            torch=torch.get_rng_state(),
            numpy=np.random.get_state(),
            python=random.getstate())
        if torch.cuda.is_available():
            state['cuda'] = torch.cuda.get_rng_state_all()
        checkpoint['rng_state'] = state

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        # Loading weights for fine-tuning (load_from) must not replay the
        # generators of another run; only resuming does.
        if runner._resume:
            self._pending = checkpoint.get('rng_state')

    def _restore_torch(self, state: dict) -> None:
        torch.set_rng_state(state['torch'])
        if 'cuda' in state and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state['cuda'])

    def before_train_epoch(self, runner) -> None:
        if self._pending is None or isinstance(runner.train_loop,
                                               IterBasedTrainLoop):
            return
        state, self._pending = self._pending, None
        self._restore_torch(state)
        np.random.set_state(state['numpy'])
        random.setstate(state['python'])

    def before_train_iter(self,
                          runner,
                          batch_idx: int,
                          data_batch=None) -> None:
        if self._pending is not None:
            state, self._pending = self._pending, None
            self._restore_torch(state)
