from . import (data_preprocessors, decode_heads, heads, losses, necks,
               restorers, segmentors)
from .backbones import *  # noqa: F401,F403

__all__ = [
    'data_preprocessors', 'decode_heads', 'heads', 'losses', 'necks',
    'restorers', 'segmentors'
]
