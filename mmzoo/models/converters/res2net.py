"""Official Res2Net -> mmzoo.Res2Net.

The official release (github Res2Net/Res2Net-PretrainedModels) ships plain
state dicts for the res2net, res2next and res2net_v1b families; the
architecture (depth, scales, width, groups, v1b stem) is read from the
weights.
"""
from mmzoo.utils.converter import (ConversionError, build_classifier,
                                   check_matches, key_shape, rename,
                                   stage_blocks)
from ..backbones import Res2Net

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
PLAIN_RULES = [
    (r'^conv1\.weight$', 'backbone.stem.0.conv.weight'),
    (r'^bn1\.(\w+)$', r'backbone.stem.0.bn.\1'),
    (r'^(layer\d+\.\d+)\.downsample\.0\.weight$',
     r'backbone.\1.shortcut.proj.conv.weight'),
    (r'^(layer\d+\.\d+)\.downsample\.1\.(\w+)$',
     r'backbone.\1.shortcut.proj.bn.\2'),
]
# v1b: conv1 is Sequential(conv, bn, relu, conv, bn, relu, conv) and the
# shortcut is Sequential(avgpool, conv, bn).
V1B_RULES = [
    (r'^conv1\.0\.weight$', 'backbone.stem.0.conv.weight'),
    (r'^conv1\.1\.(\w+)$', r'backbone.stem.0.bn.\1'),
    (r'^conv1\.3\.weight$', 'backbone.stem.1.conv.weight'),
    (r'^conv1\.4\.(\w+)$', r'backbone.stem.1.bn.\1'),
    (r'^conv1\.6\.weight$', 'backbone.stem.2.conv.weight'),
    (r'^bn1\.(\w+)$', r'backbone.stem.2.bn.\1'),
    (r'^(layer\d+\.\d+)\.downsample\.1\.weight$',
     r'backbone.\1.shortcut.proj.conv.weight'),
    (r'^(layer\d+\.\d+)\.downsample\.2\.(\w+)$',
     r'backbone.\1.shortcut.proj.bn.\2'),
]


def infer_arch(state_dict: dict) -> dict:
    """Read the Res2Net variant off the official weights."""
    def shape(key):
        return key_shape(state_dict, key, 'Res2Net')

    depths = {blocks: depth
              for depth, blocks in Res2Net.arch_settings.items()}
    blocks = stage_blocks(state_dict)
    if blocks not in depths:
        raise ConversionError(
            f'stages have {blocks} blocks; Res2Net has ' + ', '.join(
                f'{b} (depth {d})' for b, d in depths.items()))
    width, width_per_group = shape('layer1.0.convs.0.weight')[:2]
    groups = width // width_per_group
    v1b = 'conv1.0.weight' in state_dict
    # In the first stage width = floor(64 * base_width / 64) * groups.
    return dict(
        depth=depths[blocks],
        scales=shape('layer1.0.conv1.weight')[0] // width,
        base_width=width // groups, groups=groups, deep_stem=v1b,
        avg_down=v1b, num_classes=shape('fc.weight')[0])


def convert_official_res2net(state_dict: dict) -> tuple:
    """Convert and verify an official Res2Net state dict; returns (mmzoo
    classifier state dict, arch)."""
    arch = infer_arch(state_dict)
    backbone = {k: v for k, v in arch.items() if k != 'num_classes'}
    rules = BLOCK_RULES + (V1B_RULES if arch['deep_stem'] else PLAIN_RULES)
    converted, unmatched = rename(state_dict, rules)
    model = build_classifier(dict(type='mmzoo.Res2Net', **backbone),
                             arch['num_classes'], in_channels=2048)
    check_matches(converted, unmatched, model.state_dict(),
                  f'Res2Net {backbone}')
    return converted, arch
