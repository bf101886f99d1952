"""Convert an official Res2Net checkpoint into an mmzoo classifier checkpoint.

The official release (github Res2Net/Res2Net-PretrainedModels) ships plain
state dicts for the res2net, res2next and res2net_v1b families. The
architecture (depth, scales, width, groups, v1b stem) is read from the
weights, the keys are renamed to mmzoo's layout, and the result is checked
against a freshly built mmpretrain ``ImageClassifier`` with an
``mmzoo.Res2Net`` backbone before anything is written.

    python tools/model_converters/res2net2mmzoo.py \\
        res2net50_26w_4s-06e79181.pth checkpoints/res2net50-26w4s_in1k.pth
"""
import sys

import mmzoo.models  # noqa: F401  (registers Res2Net)
from mmzoo.utils.converter import (ConversionError, build_classifier,
                                   check_matches, key_shape, rename,
                                   run_cli)

DEPTHS = {6: 50, 23: 101, 36: 152}  # blocks in stage 3 -> depth

# (official key pattern, mmzoo key template); the first match wins.
_BLOCK_RULES = [
    (r'^fc\.(\w+)$', r'head.fc.\1'),
    (r'^(layer\d+\.\d+)\.conv1\.weight$', r'backbone.\1.conv1.conv.weight'),
    (r'^(layer\d+\.\d+)\.bn1\.(\w+)$', r'backbone.\1.conv1.bn.\2'),
    (r'^(layer\d+\.\d+)\.convs\.(\d+)\.weight$',
     r'backbone.\1.convs.\2.conv.weight'),
    (r'^(layer\d+\.\d+)\.bns\.(\d+)\.(\w+)$', r'backbone.\1.convs.\2.bn.\3'),
    (r'^(layer\d+\.\d+)\.conv3\.weight$', r'backbone.\1.conv3.conv.weight'),
    (r'^(layer\d+\.\d+)\.bn3\.(\w+)$', r'backbone.\1.conv3.bn.\2'),
]
_PLAIN_RULES = [
    (r'^conv1\.weight$', 'backbone.stem.0.conv.weight'),
    (r'^bn1\.(\w+)$', r'backbone.stem.0.bn.\1'),
    (r'^(layer\d+\.\d+)\.downsample\.0\.weight$',
     r'backbone.\1.shortcut.proj.conv.weight'),
    (r'^(layer\d+\.\d+)\.downsample\.1\.(\w+)$',
     r'backbone.\1.shortcut.proj.bn.\2'),
]
# v1b: conv1 is Sequential(conv, bn, relu, conv, bn, relu, conv) and the
# shortcut is Sequential(avgpool, conv, bn).
_V1B_RULES = [
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

    blocks3 = {k.split('.')[1] for k in state_dict if k.startswith('layer3.')}
    if len(blocks3) not in DEPTHS:
        raise ConversionError(
            f'stage 3 has {len(blocks3)} blocks; Res2Net has '
            f'{sorted(DEPTHS)} (depths {sorted(DEPTHS.values())})')
    width, width_per_group = shape('layer1.0.convs.0.weight')[:2]
    groups = width // width_per_group
    v1b = 'conv1.0.weight' in state_dict
    # In the first stage width = floor(64 * base_width / 64) * groups.
    return dict(
        depth=DEPTHS[len(blocks3)],
        scales=shape('layer1.0.conv1.weight')[0] // width,
        base_width=width // groups, groups=groups, deep_stem=v1b,
        avg_down=v1b, num_classes=shape('fc.weight')[0])


def convert(state_dict: dict) -> tuple:
    """Convert and verify; returns (mmzoo state dict, arch)."""
    arch = infer_arch(state_dict)
    backbone = {k: v for k, v in arch.items() if k != 'num_classes'}
    rules = _BLOCK_RULES + (_V1B_RULES if arch['deep_stem'] else _PLAIN_RULES)
    converted, unmatched = rename(state_dict, rules)
    model = build_classifier(dict(type='mmzoo.Res2Net', **backbone),
                             arch['num_classes'], in_channels=2048)
    check_matches(converted, unmatched, model.state_dict(),
                  f'Res2Net {backbone}')
    return converted, arch


if __name__ == '__main__':
    sys.exit(run_cli(__doc__, convert))
