"""Convert an official Res2Net checkpoint into an mmzoo classifier checkpoint.

The official release (github Res2Net/Res2Net-PretrainedModels) ships plain
state dicts for the res2net, res2next and res2net_v1b families. The
architecture (depth, scales, width, groups, v1b stem) is read from the
weights, the keys are renamed to mmzoo's layout, and the result is checked
against a freshly built mmpretrain ``ImageClassifier`` with an
``mmzoo.Res2Net`` backbone before anything is written.

    python tools/model_converters/res2net2mmzoo.py \
        res2net50_26w_4s-06e79181.pth res2net50-26w4s_in1k.pth
"""
import argparse
import io
import re
import sys
from collections import OrderedDict

import torch

import mmzoo.models  # noqa: F401  (registers Res2Net)
from mmzoo.registry import MODELS
from mmzoo.utils.fileio import atomic_write_bytes

DEPTHS = {6: 50, 23: 101, 36: 152}  # blocks in stage 3 -> depth

# (official key pattern, mmzoo key template); first match wins.
_BLOCK_RULES = [
    (r'^(layer\d+\.\d+)\.conv1\.weight$', r'\1.conv1.conv.weight'),
    (r'^(layer\d+\.\d+)\.bn1\.(\w+)$', r'\1.conv1.bn.\2'),
    (r'^(layer\d+\.\d+)\.convs\.(\d+)\.weight$', r'\1.convs.\2.conv.weight'),
    (r'^(layer\d+\.\d+)\.bns\.(\d+)\.(\w+)$', r'\1.convs.\2.bn.\3'),
    (r'^(layer\d+\.\d+)\.conv3\.weight$', r'\1.conv3.conv.weight'),
    (r'^(layer\d+\.\d+)\.bn3\.(\w+)$', r'\1.conv3.bn.\2'),
]
_PLAIN_RULES = [
    (r'^conv1\.weight$', 'stem.0.conv.weight'),
    (r'^bn1\.(\w+)$', r'stem.0.bn.\1'),
    (r'^(layer\d+\.\d+)\.downsample\.0\.weight$',
     r'\1.shortcut.proj.conv.weight'),
    (r'^(layer\d+\.\d+)\.downsample\.1\.(\w+)$', r'\1.shortcut.proj.bn.\2'),
]
# v1b: conv1 is Sequential(conv, bn, relu, conv, bn, relu, conv) and the
# shortcut is Sequential(avgpool, conv, bn).
_V1B_RULES = [
    (r'^conv1\.0\.weight$', 'stem.0.conv.weight'),
    (r'^conv1\.1\.(\w+)$', r'stem.0.bn.\1'),
    (r'^conv1\.3\.weight$', 'stem.1.conv.weight'),
    (r'^conv1\.4\.(\w+)$', r'stem.1.bn.\1'),
    (r'^conv1\.6\.weight$', 'stem.2.conv.weight'),
    (r'^bn1\.(\w+)$', r'stem.2.bn.\1'),
    (r'^(layer\d+\.\d+)\.downsample\.1\.weight$',
     r'\1.shortcut.proj.conv.weight'),
    (r'^(layer\d+\.\d+)\.downsample\.2\.(\w+)$', r'\1.shortcut.proj.bn.\2'),
]


class ConversionError(ValueError):
    pass


def read_state_dict(path: str) -> dict:
    ckpt = torch.load(path, map_location='cpu', weights_only=True)
    if isinstance(ckpt, dict) and 'state_dict' in ckpt:
        ckpt = ckpt['state_dict']
    if not isinstance(ckpt, dict) or not ckpt:
        raise ConversionError(f'{path} holds no state dict')
    # Checkpoints saved from nn.DataParallel prefix every key.
    return OrderedDict((k[7:] if k.startswith('module.') else k, v)
                       for k, v in ckpt.items())


def infer_arch(state_dict: dict) -> dict:
    """Read the Res2Net variant off the official weights."""
    def shape(key):
        if key not in state_dict:
            raise ConversionError(
                f'missing key {key!r}: not an official Res2Net checkpoint')
        return tuple(state_dict[key].shape)

    blocks3 = {int(k.split('.')[1]) for k in state_dict
               if k.startswith('layer3.')}
    if len(blocks3) not in DEPTHS:
        raise ConversionError(
            f'stage 3 has {len(blocks3)} blocks; Res2Net has '
            f'{sorted(DEPTHS)} (depths {sorted(DEPTHS.values())})')
    width, width_per_group = shape('layer1.0.convs.0.weight')[:2]
    groups = width // width_per_group
    scales = shape('layer1.0.conv1.weight')[0] // width
    # width = floor(64 * base_width / 64) * groups in the first stage.
    return dict(
        depth=DEPTHS[len(blocks3)], scales=scales,
        base_width=width // groups, groups=groups,
        deep_stem='conv1.0.weight' in state_dict,
        avg_down='conv1.0.weight' in state_dict,
        num_classes=shape('fc.weight')[0])


def rename(state_dict: dict, v1b: bool) -> tuple:
    """Return (converted state dict, official keys no rule matched)."""
    rules = _BLOCK_RULES + (_V1B_RULES if v1b else _PLAIN_RULES)
    converted, unmatched = OrderedDict(), []
    for key, value in state_dict.items():
        if key.startswith('fc.'):
            converted['head.' + key] = value
            continue
        for pattern, template in rules:
            if re.match(pattern, key):
                converted['backbone.' + re.sub(pattern, template, key)] = value
                break
        else:
            unmatched.append(key)
    return converted, unmatched


def build_classifier(arch: dict) -> torch.nn.Module:
    arch = dict(arch)
    num_classes = arch.pop('num_classes')
    return MODELS.build(
        dict(_scope_='mmpretrain', type='ImageClassifier',
             backbone=dict(type='mmzoo.Res2Net', **arch),
             neck=dict(type='GlobalAveragePooling'),
             head=dict(type='LinearClsHead', num_classes=num_classes,
                       in_channels=2048)))


def convert(state_dict: dict) -> tuple:
    """Convert and verify; returns (mmzoo state dict, arch)."""
    arch = infer_arch(state_dict)
    converted, unmatched = rename(state_dict, v1b=arch['deep_stem'])
    expected = build_classifier(arch).state_dict()
    # Checkpoints from torch < 0.4.1 have no BN counters; they load fine.
    missing = [k for k in expected if k not in converted
               and not k.endswith('num_batches_tracked')]
    unexpected = unmatched + [
        k for k in converted if k not in expected]
    wrong_shape = [
        f'{k}: {tuple(v.shape)} vs {tuple(expected[k].shape)}'
        for k, v in converted.items()
        if k in expected and v.shape != expected[k].shape]
    if missing or unexpected or wrong_shape:
        lines = [f'checkpoint does not match Res2Net {arch}:']
        for title, keys in (('missing keys', missing),
                            ('unexpected keys', unexpected),
                            ('shape mismatches', wrong_shape)):
            if keys:
                lines.append(f'  {title} ({len(keys)}): ' + ', '.join(keys))
        raise ConversionError('\n'.join(lines))
    return converted, arch


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
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
    print(f'wrote {args.dst}: Res2Net {arch}, {len(converted)} tensors')
    return 0


if __name__ == '__main__':
    sys.exit(main())
