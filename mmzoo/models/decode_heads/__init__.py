from .bsda_head import BSDAHead
from .sta_head import STAHead

__all__ = ['BSDAHead', 'STAHead']
