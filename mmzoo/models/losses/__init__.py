from .batch_dice_loss import BatchDiceLoss
from .bcl_loss import BCLLoss

__all__ = ['BatchDiceLoss', 'BCLLoss']
