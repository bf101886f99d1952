"""What the official-checkpoint converters in tools/model_converters share:
reading a state dict, renaming keys by rules, checking the result against
the model it must load into, and writing it atomically."""
import argparse
import io
import re
import sys
from collections import OrderedDict
from typing import Callable, Dict, List, Sequence, Tuple

import torch

from mmzoo.registry import MODELS
from mmzoo.utils.fileio import atomic_write_bytes

Rule = Tuple[str, str]


# torchvision's ResNet/ResNeXt keys -> mmzoo's (ResNetBase layout), for
# re.sub; the first match wins. Shared by resnet2mmzoo and resnext2mmzoo.
TORCHVISION_RESNET_RULES = [
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


class ConversionError(ValueError):
    """The source checkpoint does not fit the target architecture."""


def read_state_dict(path: str) -> 'OrderedDict[str, torch.Tensor]':
    """Load a plain state dict (or one under ``'state_dict'``) safely, and
    drop the ``module.`` prefix that nn.DataParallel checkpoints carry."""
    ckpt = torch.load(path, map_location='cpu', weights_only=True)
    if isinstance(ckpt, dict) and 'state_dict' in ckpt:
        ckpt = ckpt['state_dict']
    if not isinstance(ckpt, dict) or not ckpt:
        raise ConversionError('holds no state dict')
    return OrderedDict((k[7:] if k.startswith('module.') else k, v)
                       for k, v in ckpt.items())


def key_shape(state_dict: dict, key: str, family: str) -> tuple:
    """The shape of ``state_dict[key]``, or an error saying the checkpoint
    is not of ``family`` when the key is missing."""
    if key not in state_dict:
        raise ConversionError(
            f'missing key {key!r}: not an official {family} checkpoint')
    return tuple(state_dict[key].shape)


def rename(state_dict: dict, rules: Sequence[Rule]) -> tuple:
    """Rename keys by the first matching ``(pattern, template)`` rule.

    Returns the renamed dict and the source keys no rule matched.
    """
    converted, unmatched = OrderedDict(), []
    for key, value in state_dict.items():
        for pattern, template in rules:
            if re.match(pattern, key):
                converted[re.sub(pattern, template, key)] = value
                break
        else:
            unmatched.append(key)
    return converted, unmatched


def build_classifier(backbone: dict, num_classes: int,
                     in_channels: int) -> torch.nn.Module:
    """The mmpretrain ImageClassifier our ImageNet configs build."""
    return MODELS.build(
        dict(_scope_='mmpretrain', type='ImageClassifier', backbone=backbone,
             neck=dict(type='GlobalAveragePooling'),
             head=dict(type='LinearClsHead', num_classes=num_classes,
                       in_channels=in_channels)))


def check_matches(converted: dict, unmatched: List[str],
                  expected: Dict[str, torch.Tensor], what: str) -> None:
    """Raise naming every missing, unexpected and mis-shaped key."""
    # Checkpoints from torch < 0.4.1 have no BN counters; they load fine.
    missing = [k for k in expected if k not in converted
               and not k.endswith('num_batches_tracked')]
    unexpected = unmatched + [k for k in converted if k not in expected]
    wrong_shape = [
        f'{k}: {tuple(v.shape)} vs {tuple(expected[k].shape)}'
        for k, v in converted.items()
        if k in expected and v.shape != expected[k].shape]
    if missing or unexpected or wrong_shape:
        lines = [f'checkpoint does not match {what}:']
        for title, keys in (('missing keys', missing),
                            ('unexpected keys', unexpected),
                            ('shape mismatches', wrong_shape)):
            if keys:
                lines.append(f'  {title} ({len(keys)}): ' + ', '.join(keys))
        raise ConversionError('\n'.join(lines))


def run_cli(doc: str, convert: Callable[[dict], tuple], argv=None) -> int:
    """``SCRIPT SRC DST``: convert SRC with ``convert(state_dict) ->
    (state_dict, arch)`` and write DST atomically; on failure print what is
    wrong, naming SRC, exit 1 and write nothing."""
    parser = argparse.ArgumentParser(
        description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('src', help='official checkpoint (.pth)')
    parser.add_argument('dst', help='where to write the mmzoo checkpoint')
    args = parser.parse_args(argv)
    try:
        converted, arch = convert(read_state_dict(args.src))
    except (ConversionError, OSError, RuntimeError) as e:
        print(f'error: {args.src}: {e}', file=sys.stderr)
        return 1
    buffer = io.BytesIO()
    torch.save(
        dict(meta=dict(converted_from=args.src, arch=arch),
             state_dict=converted), buffer)
    atomic_write_bytes(buffer.getvalue(), args.dst)
    print(f'wrote {args.dst}: {arch}, {len(converted)} tensors')
    return 0
