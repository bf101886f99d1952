"""Official ResNeSt -> mmzoo.ResNeSt.

The official release (github zhanghang1989/ResNeSt) ships plain state dicts
for resnest50, resnest101, resnest200 and resnest269; the depth and stem
width are read from the weights.
"""
from mmzoo.utils.converter import (ConversionError, build_classifier,
                                   check_matches, key_shape, rename,
                                   stage_blocks)
from ..backbones import ResNeSt

# (official key pattern, mmzoo key template); the first match wins.
# The official deep stem is conv1 = Sequential(conv, bn, relu, conv, bn,
# relu, conv) with its last norm outside (bn1); the shortcut is downsample =
# Sequential(avgpool, conv, bn); the split-attention conv2 holds conv, bn0
# (its norm), fc1, bn1 and fc2.
OFFICIAL_RULES = [
    (r'^fc\.(\w+)$', r'head.fc.\1'),
    (r'^conv1\.0\.weight$', 'backbone.stem.0.conv.weight'),
    (r'^conv1\.1\.(\w+)$', r'backbone.stem.0.bn.\1'),
    (r'^conv1\.3\.weight$', 'backbone.stem.1.conv.weight'),
    (r'^conv1\.4\.(\w+)$', r'backbone.stem.1.bn.\1'),
    (r'^conv1\.6\.weight$', 'backbone.stem.2.conv.weight'),
    (r'^bn1\.(\w+)$', r'backbone.stem.2.bn.\1'),
    (r'^(layer\d+\.\d+)\.conv1\.weight$', r'backbone.\1.conv1.conv.weight'),
    (r'^(layer\d+\.\d+)\.bn1\.(\w+)$', r'backbone.\1.conv1.bn.\2'),
    (r'^(layer\d+\.\d+)\.conv2\.conv\.weight$',
     r'backbone.\1.conv2.conv.conv.weight'),
    (r'^(layer\d+\.\d+)\.conv2\.bn0\.(\w+)$',
     r'backbone.\1.conv2.conv.bn.\2'),
    (r'^(layer\d+\.\d+)\.conv2\.(fc1|bn1|fc2)\.(\w+)$',
     r'backbone.\1.conv2.\2.\3'),
    (r'^(layer\d+\.\d+)\.conv3\.weight$', r'backbone.\1.conv3.conv.weight'),
    (r'^(layer\d+\.\d+)\.bn3\.(\w+)$', r'backbone.\1.conv3.bn.\2'),
    (r'^(layer\d+\.\d+)\.downsample\.1\.weight$',
     r'backbone.\1.shortcut.proj.conv.weight'),
    (r'^(layer\d+\.\d+)\.downsample\.2\.(\w+)$',
     r'backbone.\1.shortcut.proj.bn.\2'),
]


def infer_arch(state_dict: dict) -> dict:
    """Read the ResNeSt depth and stem off the official weights."""
    def shape(key):
        return key_shape(state_dict, key, 'ResNeSt')

    depths = {blocks: depth
              for depth, (blocks, _) in ResNeSt.arch_settings.items()}
    blocks = stage_blocks(state_dict)
    if blocks not in depths:
        raise ConversionError(
            f'stages have {blocks} blocks; ResNeSt has ' + ', '.join(
                f'{b} (depth {d})' for b, d in depths.items()))
    # The deep stem's last convolution outputs 2 * stem_width channels.
    return dict(depth=depths[blocks],
                stem_channels=shape('conv1.6.weight')[0],
                num_classes=shape('fc.weight')[0])


def convert_official_resnest(state_dict: dict) -> tuple:
    """Convert and verify an official ResNeSt state dict; returns (mmzoo
    classifier state dict, arch)."""
    arch = infer_arch(state_dict)
    backbone = {k: v for k, v in arch.items() if k != 'num_classes'}
    converted, unmatched = rename(state_dict, OFFICIAL_RULES)
    model = build_classifier(dict(type='mmzoo.ResNeSt', **backbone),
                             arch['num_classes'], in_channels=2048)
    check_matches(converted, unmatched, model.state_dict(),
                  f'ResNeSt {backbone}')
    return converted, arch
