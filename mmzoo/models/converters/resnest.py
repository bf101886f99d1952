"""Official ResNeSt -> mmzoo.ResNeSt.

The official release (github zhanghang1989/ResNeSt) ships plain state dicts for
resnest50, resnest101, resnest200 and resnest269; the depth and stem width are
read from the weights.
"""
from mmzoo.utils.converter import infer_depth, key_shape, rename_and_check
from ..backbones import ResNeSt
from .resnet import RESNET_D_RULES

# (official key pattern, mmzoo key template); the first match wins. The
# split-attention conv2 holds conv, bn0 (its norm), fc1, bn1 and fc2.
OFFICIAL_RULES = [
    (r'^fc\.(\w+)$', r'head.fc.\1'),
    (r'^(layer\d+\.\d+)\.conv1\.weight$', r'backbone.\1.conv1.conv.weight'),
    (r'^(layer\d+\.\d+)\.bn1\.(\w+)$', r'backbone.\1.conv1.bn.\2'),
    (r'^(layer\d+\.\d+)\.conv2\.conv\.weight$',
     r'backbone.\1.conv2.conv.conv.weight'),
    (r'^(layer\d+\.\d+)\.conv2\.bn0\.(\w+)$', r'backbone.\1.conv2.conv.bn.\2'),
    (r'^(layer\d+\.\d+)\.conv2\.(fc1|bn1|fc2)\.(\w+)$',
     r'backbone.\1.conv2.\2.\3'),
    (r'^(layer\d+\.\d+)\.conv3\.weight$', r'backbone.\1.conv3.conv.weight'),
    (r'^(layer\d+\.\d+)\.bn3\.(\w+)$', r'backbone.\1.conv3.bn.\2'),
] + RESNET_D_RULES


def infer_arch(state_dict: dict) -> dict:
    """Read the ResNeSt depth and stem off the official weights."""

    def shape(key):
        return key_shape(state_dict, key, 'ResNeSt')

    depth = infer_depth(state_dict, {
        d: blocks
        for d, (blocks, _) in ResNeSt.arch_settings.items()
    }, 'ResNeSt')
    # The deep stem's last convolution outputs 2 * stem_width channels.
    return dict(
        depth=depth,
        stem_channels=shape('conv1.6.weight')[0],
        num_classes=shape('fc.weight')[0])


def convert_official_resnest(state_dict: dict) -> tuple:
    """Convert and verify an official ResNeSt state dict; returns (mmzoo
    classifier state dict, arch)."""
    arch = infer_arch(state_dict)
    backbone = {k: v for k, v in arch.items() if k != 'num_classes'}
    converted = rename_and_check(
        state_dict,
        OFFICIAL_RULES,
        dict(type='mmzoo.ResNeSt', **backbone),
        arch['num_classes'],
        in_channels=2048)
    return converted, arch
