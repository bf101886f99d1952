from .fastmri import FastMRIDataset
from .faz_folder import FAZFolderDataset
from .ixi import IXIDataset
from .levir_cd import LEVIRCDDataset
from .octa500 import OCTA500Dataset
from .transforms import *  # noqa: F401,F403

__all__ = [
    'LEVIRCDDataset', 'IXIDataset', 'FastMRIDataset', 'OCTA500Dataset',
    'FAZFolderDataset'
]
