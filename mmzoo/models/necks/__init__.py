from .stanet_fpn import STANetFPN

__all__ = ['STANetFPN']
