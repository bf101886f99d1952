"""torchvision's ResNeXt -> mmzoo.ResNeXt."""
from mmzoo.utils.converter import (ConversionError, infer_depth, key_shape,
                                   rename_and_check)
from ..backbones import ResNeXt
from .resnet import TORCHVISION_RULES


def infer_arch(state_dict: dict) -> dict:
    """Read the ResNeXt variant off the torchvision weights."""

    def shape(key):
        return key_shape(state_dict, key, 'torchvision ResNeXt')

    depth = infer_depth(state_dict, ResNeXt.arch_settings, 'ResNeXt')
    width, width_per_group = shape('layer1.0.conv2.weight')[:2]
    groups = width // width_per_group
    if groups == 1:
        raise ConversionError('layer1.0.conv2 is not grouped: a ResNet, '
                              'not a ResNeXt checkpoint')
    # In the first stage width = 64 * base_width / 64 * groups.
    return dict(
        depth=depth,
        groups=groups,
        base_width=width // groups,
        num_classes=shape('fc.weight')[0])


def convert_torchvision_resnext(state_dict: dict) -> tuple:
    """Convert and verify a torchvision ResNeXt state dict; returns (mmzoo
    classifier state dict, arch)."""
    arch = infer_arch(state_dict)
    backbone = {k: v for k, v in arch.items() if k != 'num_classes'}
    converted = rename_and_check(
        state_dict,
        TORCHVISION_RULES,
        dict(type='mmzoo.ResNeXt', **backbone),
        arch['num_classes'],
        in_channels=2048)
    return converted, arch
