"""torchvision's ResNet-18/34 -> mmzoo.ResNet (the ImageNet weights STANet
starts from)."""
from mmzoo.utils.converter import (ConversionError, infer_depth, key_shape,
                                   rename_and_check)
from ..backbones import ResNet

# (source key pattern, mmzoo key template) for re.sub; the first match
# wins. The stem and projection shortcut of torchvision's ResNets: conv1 and
# bn1, downsample = Sequential(conv, bn).
PLAIN_RULES = [
    (r'^conv1\.weight$', 'backbone.stem.0.conv.weight'),
    (r'^bn1\.(\w+)$', r'backbone.stem.0.bn.\1'),
    (r'^(layer\d+\.\d+)\.downsample\.0\.weight$',
     r'backbone.\1.shortcut.proj.conv.weight'),
    (r'^(layer\d+\.\d+)\.downsample\.1\.(\w+)$',
     r'backbone.\1.shortcut.proj.bn.\2'),
]
# Those of ResNet-D, as Res2Net-v1b and ResNeSt ship it: the deep stem
# conv1 = Sequential(conv, bn, relu, conv, bn, relu, conv) with its last
# norm outside (bn1), downsample = Sequential(avgpool, conv, bn).
RESNET_D_RULES = [
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
# torchvision's ResNet and ResNeXt keys.
TORCHVISION_RULES = [
    (r'^fc\.(\w+)$', r'head.fc.\1'),
    (r'^(layer\d+\.\d+)\.conv([123])\.weight$',
     r'backbone.\1.conv\2.conv.weight'),
    (r'^(layer\d+\.\d+)\.bn([123])\.(\w+)$', r'backbone.\1.conv\2.bn.\3'),
] + PLAIN_RULES


def infer_arch(state_dict: dict) -> dict:
    """Read the ResNet depth off the torchvision weights."""
    if 'layer1.0.conv3.weight' in state_dict:
        raise ConversionError('layer1.0 has a conv3: a bottleneck ResNet '
                              '(50 or deeper), not ResNet-18/34')
    depth = infer_depth(state_dict, ResNet.arch_settings, 'ResNet')
    num_classes = key_shape(state_dict, 'fc.weight', 'torchvision ResNet')[0]
    return dict(depth=depth, num_classes=num_classes)


def convert_torchvision_resnet(state_dict: dict) -> tuple:
    """Convert and verify a torchvision ResNet-18/34 state dict; returns (mmzoo
    classifier state dict, arch)."""
    arch = infer_arch(state_dict)
    converted = rename_and_check(
        state_dict,
        TORCHVISION_RULES,
        dict(type='mmzoo.ResNet', depth=arch['depth']),
        arch['num_classes'],
        in_channels=512)
    return converted, arch
