"""torchvision's ResNet-18/34 -> mmzoo.ResNet (the ImageNet weights STANet
starts from)."""
from mmzoo.utils.converter import (ConversionError, build_classifier,
                                   check_matches, key_shape, rename,
                                   stage_blocks)
from ..backbones import ResNet

# torchvision's ResNet/ResNeXt keys -> mmzoo's (ResNetBase layout), for
# re.sub; the first match wins. ResNeXt's converter uses them too.
TORCHVISION_RULES = [
    (r'^fc\.(\w+)$', r'head.fc.\1'),
    (r'^conv1\.weight$', 'backbone.stem.0.conv.weight'),
    (r'^bn1\.(\w+)$', r'backbone.stem.0.bn.\1'),
    (r'^(layer\d+\.\d+)\.conv([123])\.weight$',
     r'backbone.\1.conv\2.conv.weight'),
    (r'^(layer\d+\.\d+)\.bn([123])\.(\w+)$', r'backbone.\1.conv\2.bn.\3'),
    (r'^(layer\d+\.\d+)\.downsample\.0\.weight$',
     r'backbone.\1.shortcut.proj.conv.weight'),
    (r'^(layer\d+\.\d+)\.downsample\.1\.(\w+)$',
     r'backbone.\1.shortcut.proj.bn.\2'),
]


def infer_arch(state_dict: dict) -> dict:
    """Read the ResNet depth off the torchvision weights."""
    if 'layer1.0.conv3.weight' in state_dict:
        raise ConversionError('layer1.0 has a conv3: a bottleneck ResNet '
                              '(50 or deeper), not ResNet-18/34')
    depths = {blocks: depth for depth, blocks in ResNet.arch_settings.items()}
    blocks = stage_blocks(state_dict)
    if blocks not in depths:
        raise ConversionError(
            f'blocks per stage {blocks} are not those of ' + ' or '.join(
                f'ResNet-{d} {b}' for b, d in depths.items()))
    num_classes = key_shape(state_dict, 'fc.weight', 'torchvision ResNet')[0]
    return dict(depth=depths[blocks], num_classes=num_classes)


def convert_torchvision_resnet(state_dict: dict) -> tuple:
    """Convert and verify a torchvision ResNet-18/34 state dict; returns
    (mmzoo classifier state dict, arch)."""
    arch = infer_arch(state_dict)
    converted, unmatched = rename(state_dict, TORCHVISION_RULES)
    model = build_classifier(dict(type='mmzoo.ResNet', depth=arch['depth']),
                             arch['num_classes'], in_channels=512)
    check_matches(converted, unmatched, model.state_dict(),
                  f'ResNet-{arch["depth"]}')
    return converted, arch
