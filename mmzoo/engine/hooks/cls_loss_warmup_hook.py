from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.runner import IterBasedTrainLoop

from mmzoo.registry import HOOKS


@HOOKS.register_module()
class ClsLossWarmupHook(Hook):
    """Train the classification branch only after a warm-up of ``start_epoch``
    epochs of segmentation alone.

    BSDA-Net's official training (github llmir/MultitaskOCTA,
    train_seg_clf.py, ``--startpoint 60``) adds the cross-entropy from its
    61st epoch on, once the decoders whose features the classifier fuses
    have learnt something. Before every training epoch this hook sets the
    model's ``train_cls`` to ``runner.epoch >= start_epoch`` (epochs
    counted from 0, so that the official 60 becomes ``start_epoch=60``),
    which also holds after resuming.

    Args:
        start_epoch (int): Epochs of segmentation alone. Default: 60.
    """

    priority = 'NORMAL'

    def __init__(self, start_epoch: int = 60) -> None:
        if start_epoch < 0:
            raise ValueError(
                f'start_epoch must not be negative, got {start_epoch}')
        self.start_epoch = start_epoch

    def before_train(self, runner) -> None:
        if isinstance(runner.train_loop, IterBasedTrainLoop):
            raise ValueError('ClsLossWarmupHook counts epochs: use an '
                             'epoch-based train loop')
        model = self._model(runner)
        if not hasattr(model, 'train_cls'):
            raise TypeError(
                f'ClsLossWarmupHook: {type(model).__name__} has no '
                'train_cls switch (use mmzoo.BSDANet)')

    @staticmethod
    def _model(runner):
        model = runner.model
        return model.module if is_model_wrapper(model) else model

    def before_train_epoch(self, runner) -> None:
        model = self._model(runner)
        train_cls = runner.epoch >= self.start_epoch
        if train_cls and not model.train_cls:
            runner.logger.info(
                f'epoch {runner.epoch + 1}: classification loss on')
        model.train_cls = train_cls
