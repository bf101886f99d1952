from .t2net import T2Net

__all__ = ['T2Net']
