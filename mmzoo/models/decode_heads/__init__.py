from .sta_head import STAHead

__all__ = ['STAHead']
