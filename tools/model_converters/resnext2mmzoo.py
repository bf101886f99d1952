"""Convert a torchvision ResNeXt checkpoint into an mmzoo classifier
checkpoint.

The architecture (depth, groups, width per group) is read from the weights,
the keys are renamed to mmzoo's layout, and the result is checked against a
freshly built mmpretrain ``ImageClassifier`` with an ``mmzoo.ResNeXt``
backbone before anything is written.

    python tools/model_converters/resnext2mmzoo.py \\
        resnext50_32x4d-1a0047aa.pth checkpoints/resnext50-32x4d_in1k.pth
"""
import sys

import mmzoo.models  # noqa: F401  (registers ResNeXt)
from mmzoo.utils.converter import (TORCHVISION_RESNET_RULES,
                                   ConversionError, build_classifier,
                                   check_matches, key_shape, rename,
                                   run_cli)

DEPTHS = {6: 50, 23: 101, 36: 152}  # blocks in stage 3 -> depth


def infer_arch(state_dict: dict) -> dict:
    """Read the ResNeXt variant off the torchvision weights."""
    def shape(key):
        return key_shape(state_dict, key, 'torchvision ResNeXt')

    blocks3 = {k.split('.')[1] for k in state_dict if k.startswith('layer3.')}
    if len(blocks3) not in DEPTHS:
        raise ConversionError(
            f'stage 3 has {len(blocks3)} blocks; ResNeXt has '
            f'{sorted(DEPTHS)} (depths {sorted(DEPTHS.values())})')
    width, width_per_group = shape('layer1.0.conv2.weight')[:2]
    groups = width // width_per_group
    if groups == 1:
        raise ConversionError('layer1.0.conv2 is not grouped: a ResNet, '
                              'not a ResNeXt checkpoint')
    # In the first stage width = 64 * base_width / 64 * groups.
    return dict(depth=DEPTHS[len(blocks3)], groups=groups,
                base_width=width // groups,
                num_classes=shape('fc.weight')[0])


def convert(state_dict: dict) -> tuple:
    """Convert and verify; returns (mmzoo state dict, arch)."""
    arch = infer_arch(state_dict)
    backbone = {k: v for k, v in arch.items() if k != 'num_classes'}
    converted, unmatched = rename(state_dict, TORCHVISION_RESNET_RULES)
    model = build_classifier(dict(type='mmzoo.ResNeXt', **backbone),
                             arch['num_classes'], in_channels=2048)
    check_matches(converted, unmatched, model.state_dict(),
                  f'ResNeXt {backbone}')
    return converted, arch


if __name__ == '__main__':
    sys.exit(run_cli(__doc__, convert))
