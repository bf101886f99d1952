"""The five resolution stages of a ResNet-family backbone, for networks that
need the stride-2 stem output or want to act between stages (UNet encoders,
BSDA-Net's classifier)."""
from typing import List

import torch.nn as nn


def resnet_stages(backbone: nn.Module) -> List[nn.Module]:
    """The stages of a :class:`mmzoo.models.utils.ResNetBase` backbone (mmzoo's
    ResNet, ResNeXt, Res2Net, ResNeSt), at strides 2, 4, 8, 16 and 32.

    Stage 0 is the stem's convolutions (stride 2, before the max pooling),
    stage 1 the max pooling and ``layer1``, stages 2-4 ``layer2``-``layer4``:
    the split of torchvision-style encoders in UNets (and so of the
    segmentation_models_pytorch encoders that BSDA-Net's official code
    uses). Running them in turn gives exactly the backbone's own forward.

    Args:
        backbone (nn.Module): A backbone with a ``stem`` ending in max
            pooling and four ``res_layers``.

    Returns:
        list[nn.Module]: Five modules, applied one after the other.
    """
    stem = getattr(backbone, 'stem', None)
    layers = getattr(backbone, 'res_layers', None)
    if not (isinstance(stem, nn.Sequential) and isinstance(
            stem[-1], nn.MaxPool2d) and layers and len(layers) == 4):
        raise TypeError(
            f'{type(backbone).__name__} is not a ResNet-family backbone of '
            'mmzoo (a stem ending in max pooling, then layer1-layer4): '
            'use mmzoo.ResNet, ResNeXt, Res2Net or ResNeSt')
    first, *rest = [getattr(backbone, name) for name in layers]
    return [stem[:-1], nn.Sequential(stem[-1], first), *rest]
