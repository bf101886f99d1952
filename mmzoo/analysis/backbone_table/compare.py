"""mmpretrain's counterpart of each backbone, and what the ratios between the
two say."""
import copy
import inspect
import numbers
from typing import Callable, Dict, List, Optional, Tuple

from mmengine.fileio import load

from mmzoo.registry import MODELS
from .measure import IMAGE, Measures

# Arguments that do not change the inference graph (training behaviour and
# initial values only), and those both libraries' ResNet-style backbones take
# under the same name and meaning.
NOT_ARCHITECTURE = {
    'frozen_stages', 'norm_eval', 'with_cp', 'pretrained', 'init_cfg',
    'zero_init_residual'
}
RESNET_SHARED = [
    'in_channels', 'stem_channels', 'base_channels', 'strides', 'dilations',
    'out_indices', 'conv_cfg', 'norm_cfg'
]
Baseline = Tuple[Optional[dict], str]
Renames = Dict[str, str]  # our argument -> mmpretrain's


def backbone_class(backbone_cfg: dict) -> type:
    name = backbone_cfg['type']
    return MODELS.get(name if '.' in name else f'mmzoo.{name}')


def full_backbone_args(backbone_cfg: dict) -> dict:
    """The config's backbone arguments with every default filled in, read
    from the signatures along the class hierarchy, so a translation to
    mmpretrain never relies on the two libraries sharing a default (they do
    not: mmpretrain's Res2Net defaults to the v1b stem)."""
    args = {}
    for klass in reversed(backbone_class(backbone_cfg).__mro__):
        if '__init__' not in vars(klass):
            continue
        params = inspect.signature(klass.__init__).parameters.values()
        args.update((p.name, p.default) for p in params
                    if p.default is not inspect.Parameter.empty)
    args.update({k: v for k, v in backbone_cfg.items() if k != 'type'})
    return args


def translate(args: dict,
              type_: str,
              renames: Renames,
              checked: Tuple[str, ...] = ()) -> Baseline:
    """Map our arguments onto an mmpretrain backbone.

    An argument that is neither mapped, nor checked by the caller, nor known to
    be irrelevant makes the baseline unknown rather than silently different.
    """
    unmapped = sorted(
        set(args) - set(renames) - set(RESNET_SHARED) - NOT_ARCHITECTURE -
        set(checked))
    if unmapped:
        return None, (f'this tool has no mmpretrain mapping for '
                      f'{", ".join(unmapped)}')
    backbone = {their: args[ours] for ours, their in renames.items()}
    backbone.update((k, args[k]) for k in RESNET_SHARED if k in args)
    return dict(type=f'mmpretrain.{type_}', **backbone), ''


def res2net_baseline(args: dict, cls: type) -> Baseline:
    if args['groups'] != 1:
        return None, "mmpretrain's Res2Net has no groups: no Res2NeXt"
    if args['scales'] < 2:
        return None, "mmpretrain's Res2Net requires scales >= 2"
    # mmpretrain pools the pass-through split of every stage's first block,
    # at stride 1 too, as the official code does (mmdet's does not).
    return translate(
        args,
        'Res2Net',
        dict(
            depth='depth',
            scales='scales',
            base_width='base_width',
            deep_stem='deep_stem',
            avg_down='avg_down'),
        checked=('groups', ))


def resnext_baseline(args: dict, cls: type) -> Baseline:
    return translate(
        args, 'ResNeXt',
        dict(
            depth='depth',
            groups='groups',
            base_width='width_per_group',
            deep_stem='deep_stem',
            avg_down='avg_down'))


def resnest_baseline(args: dict, cls: type) -> Baseline:
    # Both are ResNet-D: the deep stem and pooled shortcut are fixed in both
    # classes (ours ignores ResNetBase's deep_stem/avg_down defaults).
    args = {
        k: v
        for k, v in args.items() if k not in ('deep_stem', 'avg_down')
    }
    if args['avd_first']:
        return None, "mmpretrain's ResNeSt pools only after the attention " \
            '(no avd_first)'
    if any(d != 1 for d in args['dilations']):
        return None, "mmpretrain's ResNeSt has no contract_dilation and " \
            'drops the stride-1 pool of dilated stages'
    # mmpretrain ignores width_per_group without groups: its width is then
    # the plain ResNet width, which is ours at base_width 64.
    if args['groups'] == 1 and args['base_width'] != 64:
        return None, "mmpretrain's ResNeSt has width 64 when groups is 1"
    if args['stem_channels'] is None:  # ours picks the official one
        args['stem_channels'] = 2 * cls.arch_settings[args['depth']][1]
    return translate(
        args,
        'ResNeSt',
        dict(
            depth='depth',
            groups='groups',
            base_width='width_per_group',
            radix='radix',
            reduction_factor='reduction_factor',
            avd='avg_down_stride'),
        checked=('avd_first', 'contract_dilation'))


def swin_baseline(args: dict, cls: type) -> Baseline:
    # mmpretrain fixes what ours exposes as arguments: check they agree.
    fixed = dict(
        patch_size=4, mlp_ratio=4., qkv_bias=True, act_cfg=dict(type='GELU'))
    different = [k for k, v in fixed.items() if args[k] != v]
    if different:
        return None, f"mmpretrain's SwinTransformer fixes {different}"
    # Its image size only sizes the (unused) absolute position embedding and
    # its windows; 224 is the size this table measures.
    backbone, note = translate(
        args,
        'SwinTransformer',
        dict(
            arch='arch',
            window_size='window_size',
            drop_path_rate='drop_path_rate'),
        checked=tuple(fixed))
    if backbone is not None:
        backbone.update(img_size=IMAGE[1:])
    return backbone, note


BASELINES: Dict[str, Callable[[dict, type], Baseline]] = {
    'Res2Net': res2net_baseline,
    'ResNeXt': resnext_baseline,
    'ResNeSt': resnest_baseline,
    'SwinTransformer': swin_baseline,
}


def baseline_model_cfg(model_cfg: dict) -> Baseline:
    """Our classifier with mmpretrain's backbone in place of ours, or None and
    why there is none."""
    cls = backbone_class(model_cfg['backbone'])
    if cls.__name__ not in BASELINES:
        return None, f'no mmpretrain counterpart of {cls.__name__} mapped here'
    backbone, note = BASELINES[cls.__name__](full_backbone_args(
        model_cfg['backbone']), cls)
    if backbone is None:
        return None, note
    theirs = copy.deepcopy(model_cfg)
    theirs['backbone'] = backbone
    return theirs, note


# --------------------------------------------------------------------------
# What the measures of the two say
# --------------------------------------------------------------------------


def architecture_notes(ours: Measures, theirs: Measures) -> List[str]:
    """Equal counts are the check that the baseline is the same network."""
    notes = []
    if ours.params != theirs.params:
        notes.append(f'parameters differ by {ours.params - theirs.params:+,}'
                     f': not the same architecture')
    if abs(ours.macs - theirs.macs) > 0.005 * theirs.macs:
        notes.append(f'MACs differ by {ours.macs / theirs.macs - 1:+.1%}')
    return notes


def throughput_ratio(ours: Measures, theirs: Optional[Measures],
                     batch: int) -> Optional[float]:
    """Ours img/s over mmpretrain's; None where either was not timed."""
    if theirs is None or not ours.seconds:
        return None
    return ours.images_per_second(batch) / theirs.images_per_second(batch)


def paired_ratios(ours: Measures, theirs: Measures) -> List[float]:
    """Per-repeat ratios of neighbouring forwards: their spread is this run's
    noise on the ratio."""
    return [t / o for o, t in zip(ours.seconds, theirs.seconds)]


def miss_reason(ours: Measures, theirs: Measures, pairs: List[float],
                goal: float) -> str:
    """What one run can say about why a backbone misses the goal."""
    if ours.macs > 1.005 * theirs.macs:
        return (f'ours counts {ours.macs / theirs.macs - 1:.1%} '
                'more MACs')
    if max(pairs) >= goal:
        return ('within this run\'s noise: some repeats have ours as fast '
                'or faster')
    return ('same MACs and slower in every repeat: the cost is in how our '
            'blocks run, not in what they compute (profile it)')


def load_throughput_goal(path: str) -> float:
    """The throughput ratio the project promises, from the benchmark's goal
    file (``throughput_ratio: 1.0``), so that the promise is stated once,
    beside the page that checks it, and not inside the tool."""
    goal = load(path)
    if not isinstance(goal, dict) or 'throughput_ratio' not in goal:
        raise ValueError(f'{path}: expected a mapping with the field '
                         f'throughput_ratio, got {goal!r}')
    ratio = goal['throughput_ratio']
    if isinstance(ratio, bool) or not isinstance(ratio, numbers.Real) \
            or not ratio > 0:
        raise ValueError(f'{path}: throughput_ratio must be a positive '
                         f'number, got {ratio!r}')
    return float(ratio)
