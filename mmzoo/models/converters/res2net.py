"""Official Res2Net -> mmzoo.Res2Net.

The official release (github Res2Net/Res2Net-PretrainedModels) ships plain
state dicts for the res2net, res2next and res2net_v1b families; the
architecture (depth, scales, width, groups, v1b stem) is read from the weights.
"""
from mmzoo.utils.converter import infer_depth, key_shape, rename_and_check
from ..backbones import Res2Net
from .resnet import PLAIN_RULES, RESNET_D_RULES

# (official key pattern, mmzoo key template); the first match wins.
BLOCK_RULES = [
    (r'^fc\.(\w+)$', r'head.fc.\1'),
    (r'^(layer\d+\.\d+)\.conv1\.weight$', r'backbone.\1.conv1.conv.weight'),
    (r'^(layer\d+\.\d+)\.bn1\.(\w+)$', r'backbone.\1.conv1.bn.\2'),
    (r'^(layer\d+\.\d+)\.convs\.(\d+)\.weight$',
     r'backbone.\1.convs.\2.conv.weight'),
    (r'^(layer\d+\.\d+)\.bns\.(\d+)\.(\w+)$', r'backbone.\1.convs.\2.bn.\3'),
    (r'^(layer\d+\.\d+)\.conv3\.weight$', r'backbone.\1.conv3.conv.weight'),
    (r'^(layer\d+\.\d+)\.bn3\.(\w+)$', r'backbone.\1.conv3.bn.\2'),
]


def infer_arch(state_dict: dict) -> dict:
    """Read the Res2Net variant off the official weights."""

    def shape(key):
        return key_shape(state_dict, key, 'Res2Net')

    depth = infer_depth(state_dict, Res2Net.arch_settings, 'Res2Net')
    width, width_per_group = shape('layer1.0.convs.0.weight')[:2]
    groups = width // width_per_group
    v1b = 'conv1.0.weight' in state_dict
    # In the first stage width = floor(64 * base_width / 64) * groups.
    return dict(
        depth=depth,
        scales=shape('layer1.0.conv1.weight')[0] // width,
        base_width=width // groups,
        groups=groups,
        deep_stem=v1b,
        avg_down=v1b,
        num_classes=shape('fc.weight')[0])


def convert_official_res2net(state_dict: dict) -> tuple:
    """Convert and verify an official Res2Net state dict; returns (mmzoo
    classifier state dict, arch)."""
    arch = infer_arch(state_dict)
    backbone = {k: v for k, v in arch.items() if k != 'num_classes'}
    # v1b has ResNet-D's deep stem and average-pool shortcut.
    stem_rules = RESNET_D_RULES if arch['deep_stem'] else PLAIN_RULES
    converted = rename_and_check(
        state_dict,
        BLOCK_RULES + stem_rules,
        dict(type='mmzoo.Res2Net', **backbone),
        arch['num_classes'],
        in_channels=2048)
    return converted, arch
