"""Batching of single-channel MRI slices for the restorers."""
import torch
from mmengine.model import BaseDataPreprocessor

from mmzoo.registry import MODELS


@MODELS.register_module()
class MRIDataPreprocessor(BaseDataPreprocessor):
    """Moves a batch to the model's device and stacks its input slices.

    The MRI pipelines pack each slice as a (C, h, w) tensor and a
    ``BaseDataElement``, which ``pseudo_collate`` leaves as lists; the slices
    are already normalised by the pipeline, so this only stacks them into (N,
    C, h, w). Slices of different sizes cannot form a batch and are refused
    with their shapes.
    """

    def forward(self, data: dict, training: bool = False) -> dict:
        data = self.cast_data(data)
        inputs = data['inputs']
        if isinstance(inputs, (list, tuple)):
            shapes = {tuple(t.shape) for t in inputs}
            if len(shapes) != 1:
                raise ValueError(
                    'MRIDataPreprocessor: the slices of a batch must have one '
                    f'shape to be stacked; got {sorted(shapes)}')
            inputs = torch.stack(list(inputs))
        return dict(inputs=inputs, data_samples=data.get('data_samples'))
