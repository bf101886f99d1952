"""Convert a torchvision ResNet-18 or ResNet-34 checkpoint into an mmzoo
classifier checkpoint (``mmzoo.ResNet`` backbone), e.g. the ImageNet
weights STANet starts from.

The depth is read from the weights, the keys are renamed to mmzoo's layout,
and the result is checked against a freshly built mmpretrain
``ImageClassifier`` before anything is written.

    python tools/model_converters/resnet2mmzoo.py \\
        resnet18-f37072fd.pth checkpoints/resnet18_in1k.pth

STANet's backbone has a third, multi-grid block in its last stage that no
ImageNet ResNet-18 has: as in the official code, the configs load these
weights non-strictly and that block starts from its random initialisation
(mmengine logs its keys as missing).
"""
import sys

import mmzoo.models  # noqa: F401  (registers ResNet)
from mmzoo.utils.converter import (TORCHVISION_RESNET_RULES,
                                   ConversionError, build_classifier,
                                   check_matches, key_shape, rename,
                                   run_cli)

# Basic blocks per stage -> depth.
DEPTHS = {(2, 2, 2, 2): 18, (3, 4, 6, 3): 34}


def infer_arch(state_dict: dict) -> dict:
    """Read the ResNet depth off the torchvision weights."""
    if 'layer1.0.conv3.weight' in state_dict:
        raise ConversionError('layer1.0 has a conv3: a bottleneck ResNet '
                              '(50 or deeper), not ResNet-18/34')
    blocks = tuple(
        len({k.split('.')[1] for k in state_dict
             if k.startswith(f'layer{stage}.')}) for stage in range(1, 5))
    if blocks not in DEPTHS:
        raise ConversionError(
            f'blocks per stage {blocks} are not those of ResNet-18 '
            f'{(2, 2, 2, 2)} or ResNet-34 {(3, 4, 6, 3)}')
    num_classes = key_shape(state_dict, 'fc.weight', 'torchvision ResNet')[0]
    return dict(depth=DEPTHS[blocks], num_classes=num_classes)


def convert(state_dict: dict) -> tuple:
    """Convert and verify; returns (mmzoo state dict, arch)."""
    arch = infer_arch(state_dict)
    converted, unmatched = rename(state_dict, TORCHVISION_RESNET_RULES)
    model = build_classifier(dict(type='mmzoo.ResNet', depth=arch['depth']),
                             arch['num_classes'], in_channels=512)
    check_matches(converted, unmatched, model.state_dict(),
                  f'ResNet-{arch["depth"]}')
    return converted, arch


if __name__ == '__main__':
    sys.exit(run_cli(__doc__, convert))
