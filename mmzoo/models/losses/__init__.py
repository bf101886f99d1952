from .bcl_loss import BCLLoss

__all__ = ['BCLLoss']
