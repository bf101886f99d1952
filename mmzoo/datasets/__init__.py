from .fastmri import FastMRIDataset
from .ixi import IXIDataset
from .levir_cd import LEVIRCDDataset
from .transforms import *  # noqa: F401,F403

__all__ = ['LEVIRCDDataset', 'IXIDataset', 'FastMRIDataset']
