from .bitemporal import (BitemporalPhotoMetricDistortion,
                         BitemporalRandomRotate, LoadBitemporalImages,
                         LoadChangeLabel, PackBitemporalInputs)

__all__ = [
    'BitemporalPhotoMetricDistortion', 'BitemporalRandomRotate',
    'LoadBitemporalImages', 'LoadChangeLabel', 'PackBitemporalInputs'
]
