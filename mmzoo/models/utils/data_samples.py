"""Data samples for a segmentor's ``predict`` called without any."""
from typing import List

from mmseg.structures import SegDataSample
from torch import Tensor


def unpadded_samples(inputs: Tensor) -> List[SegDataSample]:
    """One :class:`SegDataSample` per image of ``inputs``, stating that the
    batch is the images as they were (no resize, no padding), as mmseg's
    ``EncoderDecoder.predict`` assumes when it is given no samples."""
    size = tuple(inputs.shape[2:])
    return [
        SegDataSample(
            metainfo=dict(
                ori_shape=size,
                img_shape=size,
                pad_shape=size,
                padding_size=[0, 0, 0, 0])) for _ in range(len(inputs))
    ]
