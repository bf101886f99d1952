from .res2net import Res2Net

__all__ = ['Res2Net']
