"""What the official-checkpoint converters of :mod:`mmzoo.models.converters`
share: reading an untrusted checkpoint safely, renaming keys by rules,
checking the result against the model it must load into, and writing it
atomically. The command lines around them are
``tools/model_converters/*.py``."""
import io
import pickle
import re
from collections import OrderedDict
from typing import Dict, List, Sequence, Tuple

import torch
from torch._weights_only_unpickler import _get_allowed_globals

from mmzoo.registry import MODELS
from mmzoo.utils.fileio import atomic_write_bytes

Rule = Tuple[str, str]


class ConversionError(ValueError):
    """The source checkpoint does not fit the target architecture."""


class _Inert:
    """What an object of a class outside torch's weights-only allow-list loads
    as: a record of the arguments and state the pickle gave it.

    The class itself is never imported, so none of its code runs.
    """

    def __new__(cls, *args, **kwargs):
        inert = super().__new__(cls)
        inert.args, inert.state, inert.items = args, None, []
        return inert

    def __init__(self, *args, **kwargs):
        pass

    def __setstate__(self, state):
        self.state = state

    def __setitem__(self, key, value):
        self.items.append((key, value))

    def append(self, item):
        self.items.append(item)

    def extend(self, items):
        self.items.extend(items)

    add = append  # pickled sets

    def __repr__(self):
        return f'<inert {self.global_name}>'


class _InertUnpickler(pickle.Unpickler):
    """Resolves the globals of torch's weights-only allow-list (tensors,
    storages, dtypes, OrderedDict) and turns every other one into an
    :class:`_Inert` subclass named after it, without importing its
    module."""

    def find_class(self, module: str, name: str):
        full_name = f'{module}.{name}'
        # torch's own list, so what loads is exactly what weights_only
        # allows; the rest of this unpickler only adds the placeholders.
        allowed = _get_allowed_globals()
        if full_name in allowed:
            return allowed[full_name]
        return type(name, (_Inert, ), dict(global_name=full_name))


class _InertPickle:
    """The ``pickle_module`` that :func:`torch.load` unpickles with."""
    Unpickler = _InertUnpickler

    @staticmethod
    def load(file, **kwargs):
        return _InertUnpickler(file, **kwargs).load()


def read_checkpoint(path: str):
    """Load a checkpoint from an untrusted source without running its code.

    ``torch.load(weights_only=True)`` refuses the whole file when anything
    beside the weights is an object of another package, as the official Swin
    repository's training checkpoints store their yacs config. Such a file is
    read again with an unpickler that resolves only what ``weights_only``
    allows and loads any other object as an inert placeholder (never importing
    its class), so the weights can still be taken out.
    """
    try:
        return torch.load(path, map_location='cpu', weights_only=True)
    except pickle.UnpicklingError:
        pass
    # Safe despite weights_only=False: every global the pickle names goes
    # through _InertUnpickler.find_class, which never imports or runs
    # anything outside torch's weights-only allow-list.
    return torch.load(
        path,
        map_location='cpu',
        weights_only=False,
        pickle_module=_InertPickle)


def extract_state_dict(checkpoint) -> 'OrderedDict[str, torch.Tensor]':
    """The weights of a checkpoint: the dict itself, or the one under
    ``'state_dict'`` (mmengine and others) or ``'model'`` (the official Swin
    releases, which add optimizer, scheduler and config entries to training
    checkpoints), without the ``module.`` prefix that nn.DataParallel
    checkpoints carry.

    Other entries are dropped.
    """
    if isinstance(checkpoint, dict):
        for key in ('state_dict', 'model'):
            if isinstance(checkpoint.get(key), dict):
                checkpoint = checkpoint[key]
                break
    if not isinstance(checkpoint, dict) or not checkpoint:
        raise ConversionError('holds no state dict')
    state_dict = OrderedDict()
    for key, value in checkpoint.items():
        if not isinstance(value, torch.Tensor):
            kind = getattr(value, 'global_name', type(value).__name__)
            raise ConversionError(
                f'entry {key!r} is a {kind}, not a tensor: not a state dict')
        state_dict[key[7:] if key.startswith('module.') else key] = value
    return state_dict


def read_state_dict(path: str) -> 'OrderedDict[str, torch.Tensor]':
    """The weights of the checkpoint file at ``path``, read safely
    (:func:`read_checkpoint`, :func:`extract_state_dict`)."""
    try:
        checkpoint = read_checkpoint(path)
    except (RuntimeError, pickle.UnpicklingError, EOFError) as error:
        raise ConversionError(f'cannot be read as a torch checkpoint: '
                              f'{error}') from error
    return extract_state_dict(checkpoint)


def write_checkpoint(path: str, state_dict: dict, meta: dict) -> None:
    """Save ``{'meta': meta, 'state_dict': state_dict}`` atomically, as
    mmengine's ``load_checkpoint`` reads it."""
    buffer = io.BytesIO()
    torch.save(dict(meta=meta, state_dict=state_dict), buffer)
    atomic_write_bytes(buffer.getvalue(), path)


def key_shape(state_dict: dict, key: str, family: str) -> tuple:
    """The shape of ``state_dict[key]``, or an error saying the checkpoint is
    not of ``family`` when the key is missing."""
    if key not in state_dict:
        raise ConversionError(
            f'missing key {key!r}: not an official {family} checkpoint')
    return tuple(state_dict[key].shape)


def infer_depth(state_dict: dict, blocks_by_depth: Dict[int, tuple],
                family: str) -> int:
    """The depth of a ResNet-style checkpoint: the one whose blocks per stage
    (``blocks_by_depth``, from the backbone's ``arch_settings``) its
    ``layer{i}.{j}.`` keys have."""
    blocks = tuple(
        len({
            k.split('.')[1]
            for k in state_dict if k.startswith(f'layer{stage}.')
        }) for stage in range(1, 5))
    depths = {
        stage_blocks: depth
        for depth, stage_blocks in blocks_by_depth.items()
    }
    if blocks not in depths:
        raise ConversionError(f'stages have {blocks} blocks; {family} has ' +
                              ', '.join(f'{b} (depth {d})'
                                        for b, d in depths.items()))
    return depths[blocks]


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
        dict(
            _scope_='mmpretrain',
            type='ImageClassifier',
            backbone=backbone,
            neck=dict(type='GlobalAveragePooling'),
            head=dict(
                type='LinearClsHead',
                num_classes=num_classes,
                in_channels=in_channels)))


def check_matches(converted: dict, unmatched: List[str],
                  expected: Dict[str, torch.Tensor], what: str) -> None:
    """Raise naming every missing, unexpected and mis-shaped key."""
    # Checkpoints from torch < 0.4.1 have no BN counters; they load fine.
    missing = [
        k for k in expected
        if k not in converted and not k.endswith('num_batches_tracked')
    ]
    unexpected = unmatched + [k for k in converted if k not in expected]
    wrong_shape = [
        f'{k}: {tuple(v.shape)} vs {tuple(expected[k].shape)}'
        for k, v in converted.items()
        if k in expected and v.shape != expected[k].shape
    ]
    if missing or unexpected or wrong_shape:
        lines = [f'checkpoint does not match {what}:']
        for title, keys in (('missing keys', missing), ('unexpected keys',
                                                        unexpected),
                            ('shape mismatches', wrong_shape)):
            if keys:
                lines.append(f'  {title} ({len(keys)}): ' + ', '.join(keys))
        raise ConversionError('\n'.join(lines))


def rename_and_check(state_dict: dict, rules: Sequence[Rule], backbone: dict,
                     num_classes: int, in_channels: int) -> OrderedDict:
    """Rename ``state_dict`` by ``rules`` and check the result against the
    classifier with ``backbone`` (a config) that our ImageNet configs build;
    returns the renamed state dict."""
    converted, unmatched = rename(state_dict, rules)
    model = build_classifier(backbone, num_classes, in_channels)
    check_matches(converted, unmatched, model.state_dict(),
                  ' '.join(f'{k}={v}' for k, v in backbone.items()))
    return converted
