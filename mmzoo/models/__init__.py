from . import decode_heads, losses, necks, segmentors  # noqa: F401
from .backbones import *  # noqa: F401,F403
