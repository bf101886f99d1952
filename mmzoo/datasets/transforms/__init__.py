from .bitemporal import (BitemporalPhotoMetricDistortion,
                         BitemporalRandomRotate, LoadBitemporalImages,
                         LoadChangeLabel, PackBitemporalInputs)
from .kspace import (KSpaceDegrade, LoadFastMRISlice, LoadIXISlice,
                     PackMRIInputs)

__all__ = [
    'BitemporalPhotoMetricDistortion', 'BitemporalRandomRotate',
    'LoadBitemporalImages', 'LoadChangeLabel', 'PackBitemporalInputs',
    'LoadIXISlice', 'LoadFastMRISlice', 'KSpaceDegrade', 'PackMRIInputs'
]
