from .bitemporal import (BitemporalPhotoMetricDistortion,
                         BitemporalRandomRotate, LoadBitemporalImages,
                         LoadChangeLabel, PackBitemporalInputs)
from .kspace import (KSpaceDegrade, LoadFastMRISlice, LoadIXISlice,
                     PackMRIInputs)
from .octa_targets import GenerateFAZTargets, LoadFAZAnnotation, PackOCTAInputs

__all__ = [
    'BitemporalPhotoMetricDistortion', 'BitemporalRandomRotate',
    'LoadBitemporalImages', 'LoadChangeLabel', 'PackBitemporalInputs',
    'LoadIXISlice', 'LoadFastMRISlice', 'KSpaceDegrade', 'PackMRIInputs',
    'LoadFAZAnnotation', 'GenerateFAZTargets', 'PackOCTAInputs'
]
