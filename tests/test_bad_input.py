"""Bad input to the tools: each case gives one clear error that names the file,
key or shape at fault, and nothing on disk changes.

Every case runs a tool as a user would (``tools/train.py``, ``tools/test.py``,
a converter) in this process, on a folder holding a tiny LEVIR-CD-style set,
checkpoints and a work dir with an earlier run's files, and compares every
file of that folder (name, size, mtime, content hash) before and after.

A new model family joins by adding one line to ``FAMILIES``: its config and a
misspelled argument of its model. Its cases (the misspelled key, another
architecture's checkpoint) then run with the rest. The error messages and
what to do about each are listed in docs/en/errors.md.
"""
import hashlib
import os
import os.path as osp
import runpy
import shutil
import sys
from pathlib import Path
from typing import Callable, List, NamedTuple

import cv2
import numpy as np
import pytest
import torch
import torchvision
from mmengine.config import Config
from mmzoo_testing import REPO

from mmzoo.registry import MODELS

STANET = 'configs/stanet/stanet-pam_r18_1xb8-1400iter_synthlevircd-64x64.py'


class Family(NamedTuple):
    name: str
    config: str  # relative to the repository
    misspelled: str  # a --cfg-options entry naming no argument of the model
    key: str  # the misspelled argument, as the error must name it


# One line per model family.
FAMILIES = [
    Family('stanet', STANET, 'model.decode_head.pam_scale=[1,2]', 'pam_scale'),
    Family('res2net', 'configs/res2net/res2net50-26w4s_8xb32_in1k.py',
           'model.backbone.base_widht=26', 'base_widht'),
    Family('resnext', 'configs/resnext/resnext50-32x4d_8xb32_in1k.py',
           'model.backbone.group=32', 'group'),
    Family('resnest', 'configs/resnest/resnest50_32xb64_in1k.py',
           'model.backbone.radx=2', 'radx'),
    Family('swin', 'configs/swin/swin-tiny_16xb64_in1k.py',
           'model.backbone.window_sise=7', 'window_sise'),
    Family('bsda-net',
           'configs/bsda/bsda-net_r34_1xb64-500e_octa500-6mm-400x400.py',
           'model.decode_head.boundry_channels=16', 'boundry_channels'),
    Family('t2net', 'configs/t2net/t2net_edsr_1xb8-50e_ixi-t2-x2-256x256.py',
           'model.num_resgroups=5', 'num_resgroups'),
]

# The test config: the STANet demo config on the tiny set, no data workers.
CONFIG = """
_base_ = '{base}'
data_root = '{data}'
train_dataloader = dict(num_workers=0, persistent_workers=False,
                        dataset=dict(data_root=data_root))
val_dataloader = dict(num_workers=0, persistent_workers=False,
                      dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
"""

SIZE = 32


def write(path, image):
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), image)


def write_levircd(root):
    """Two train and two val pairs of a changed square, 32x32."""
    rng = np.random.default_rng(0)
    for split in ('train', 'val'):
        for i in (1, 2):
            name = f'{split}_{i}.png'
            a = rng.integers(0, 256, (SIZE, SIZE, 3), np.uint8)
            b = a.copy()
            b[8:20, 8:20] = 255
            label = np.zeros((SIZE, SIZE), np.uint8)
            label[8:20, 8:20] = 255
            for folder, image in (('A', a), ('B', b), ('label', label)):
                write(root / split / folder / name, image)


class Payload:
    """Unpickling this would create a file: it must never be loaded."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, 'w'))


def training_checkpoint(model):
    """What mmengine's Runner saves, for ``model`` and an Adam over it."""
    return dict(
        meta=dict(epoch=0, iter=4, seed=0),
        state_dict=model.state_dict(),
        optimizer=torch.optim.Adam(model.parameters()).state_dict(),
        message_hub=dict(log_scalars={}, runtime_info={}, resumed_keys={}))


@pytest.fixture(scope='module')
def inputs(tmp_path_factory):
    """The files the cases start from, made once: the data, a training
    checkpoint of STANet-BAM (another architecture for every family; for the
    PAM config it differs in the attention module) and a torchvision ResNet-18
    (a converter's input of the wrong family)."""
    root = tmp_path_factory.mktemp('inputs')
    write_levircd(root / 'levircd')
    cfg = Config.fromfile(
        osp.join(
            REPO, 'configs/stanet/stanet-bam_r18_1xb8-200e_levircd-'
            '256x256.py'))
    cfg.model.backbone.pop('init_cfg', None)
    torch.manual_seed(0)
    bam = training_checkpoint(MODELS.build(cfg.model))
    torch.save(bam, root / 'bam.pth')
    torch.save(bam['state_dict'], root / 'weights.pth')
    data = (root / 'bam.pth').read_bytes()
    (root / 'cut.pth').write_bytes(data[:len(data) // 2])
    torch.save(
        dict(
            state_dict={'w': torch.ones(1)},
            payload=Payload(str(root / 'code-ran'))), root / 'evil.pth')
    torch.save(torchvision.models.resnet18().state_dict(),
               root / 'resnet18.pth')
    return root


class Case(NamedTuple):
    """Paths of one case: the folder compared before and after, and in it."""
    root: str
    data: str
    work_dir: str
    config: str
    bam: str
    resnet18: str
    marker: str  # what evil.pth would create if it were unpickled


@pytest.fixture
def case(inputs, tmp_path):
    root = tmp_path / 'disk'
    # Checkpoints are shared (a tool that wrote into one would replace it,
    # not change it in place: the comparison still sees it); the data are
    # copied, as the cases change them.
    shutil.copytree(
        inputs,
        root,
        copy_function=lambda src, dst:
        (os.link if src.endswith('.pth') else shutil.copy2)(src, dst))
    config = root / 'stanet_tiny.py'
    config.write_text(
        CONFIG.format(base=osp.join(REPO, STANET), data=root / 'levircd'))
    work_dir = root / 'work'
    # An earlier run's files: a failed start must leave them as they are.
    log_dir = work_dir / '20260101_000000'
    log_dir.mkdir(parents=True)
    (log_dir / '20260101_000000.log').write_text('the earlier run\n')
    (work_dir / 'last_checkpoint').write_text(str(work_dir / 'iter_4.pth'))
    os.link(root / 'bam.pth', work_dir / 'iter_4.pth')
    for name in [config.name] + [osp.basename(f.config) for f in FAMILIES]:
        # The config each run dumps into its work dir, from an earlier run.
        (work_dir / name).write_text('# the earlier run\n')
    return Case(
        *map(str, (root, root / 'levircd', work_dir, config, root / 'bam.pth',
                   root / 'resnet18.pth', inputs / 'code-ran')))


def snapshot(folder):
    """Every path under ``folder``: a file's size, mtime and, up to 1 MiB,
    content hash (checkpoints are large, and a tool writing one would change
    its size or mtime)."""
    state = {}
    for parent, dirs, files in os.walk(folder):
        for name in dirs:
            state[osp.relpath(osp.join(parent, name), folder)] = 'dir'
        for name in files:
            path = osp.join(parent, name)
            stat = os.stat(path)
            digest = None
            if stat.st_size <= 2**20:
                with open(path, 'rb') as f:
                    digest = hashlib.sha256(f.read()).hexdigest()
            state[osp.relpath(path, folder)] = (stat.st_size, stat.st_mtime_ns,
                                                digest)
    return state


TOOLS = {}


def tool(name):
    """``main`` of a repository script, loaded once, to run in-process."""
    if name not in TOOLS:
        TOOLS[name] = runpy.run_path(osp.join(REPO, name))['main']
    return TOOLS[name]


def train(case, *args, config=None):
    tool('tools/train.py')(
        [config or case.config, '--work-dir', case.work_dir, *args])


def run_test(case, checkpoint, *args, config=None):
    tool('tools/test.py')([
        config or case.config, checkpoint, '--work-dir', case.work_dir, *args
    ])


def replace_image(path, image):
    os.remove(path)
    write(Path(path), image)


class Scenario(NamedTuple):
    name: str
    # Breaks the input (before the snapshot); then ``run`` fails on it.
    prepare: Callable[[Case], None]
    run: Callable[[Case], None]
    # Each must appear in the error; {data} and {root} are the case's paths.
    says: List[str]


def _label(split='train', i=1):
    return f'{{data}}/{split}/label/{split}_{i}.png'


def _image(folder, split='train', i=1):
    return f'{{data}}/{split}/{folder}/{split}_{i}.png'


def nothing(case):
    pass


def missing_label(case):
    os.remove(_label().format(data=case.data))


def unreadable_image(case):
    with open(_image('A').format(data=case.data), 'w') as f:
        f.write('not a picture\n')


def missing_partner(case):
    os.remove(_image('B', i=2).format(data=case.data))


def sizes_differ(case):
    replace_image(
        _image('B').format(data=case.data), np.zeros((SIZE, 24, 3), np.uint8))


def label_values(case):
    label = np.zeros((SIZE, SIZE), np.uint8)
    label[4:8, 4:8] = 128  # a class the set does not declare
    replace_image(_label(i=2).format(data=case.data), label)


def empty_split(case):
    for folder in ('A', 'B', 'label'):
        path = osp.join(case.data, 'train', folder)
        for name in os.listdir(path):
            os.remove(osp.join(path, name))


def label_channels(case):
    replace_image(_label().format(data=case.data),
                  np.zeros((SIZE, SIZE, 3), np.uint8))


def file_in_the_way(case):
    with open(osp.join(case.root, 'a-file'), 'w') as f:
        f.write('in the way\n')


def convert(script, src, dst):
    """A converter's command line in this process, its folder first on the
    module path as when the script runs."""
    folder = osp.join(REPO, 'tools/model_converters')
    sys.path.insert(0, folder)
    try:
        namespace = runpy.run_path(osp.join(folder, script))
        import converter_cli
        (convert_fn, ) = [
            v for k, v in namespace.items() if k.startswith('convert_')
        ]
        converter_cli.run(namespace['__doc__'], convert_fn, [src, dst])
    finally:
        sys.path.remove(folder)


SCENARIOS = [
    Scenario('missing image', missing_label, train,
             [_image('A'), 'has no change label',
              _label()]),
    Scenario(
        'unreadable image', unreadable_image, train,
        ['could not read the image', _image('A')]),
    Scenario('pair with a missing partner', missing_partner, train,
             [_image('A', i=2), 'has no date-B partner']),
    Scenario('A and B of different sizes', sizes_differ, train,
             [_image('A'), 'is 32x32',
              _image('B'), 'is 24x32']),
    Scenario('label values outside the classes', label_values, train,
             [_label(i=2), 'holds values [128]']),
    Scenario('empty split', empty_split, train,
             ['no .png images in', '{data}/train/A']),
    Scenario('wrong channel count', label_channels, train,
             [_label(), 'single-channel', '(32, 32, 3)']),
    Scenario(
        'checkpoint with a foreign pickled object', nothing, lambda case:
        train(case, '--cfg-options', f'load_from={case.root}/evil.pth'),
        ['{root}/evil.pth', 'io.open']),
    Scenario('truncated checkpoint to --resume', nothing,
             lambda case: train(case, '--resume', f'{case.root}/cut.pth'),
             ['{root}/cut.pth', 'not a complete torch checkpoint']),
    Scenario(
        'plain state dict to --resume', nothing,
        lambda case: train(case, '--resume', f'{case.root}/weights.pth'),
        ['{root}/weights.pth', 'not a training checkpoint', 'load_from=']),
    Scenario('BAM checkpoint into the PAM config, --resume', nothing,
             lambda case: train(case, '--resume', case.bam),
             ['{root}/bam.pth', 'missing keys: decode_head.attention']),
    # Weights allowed to load in part: the optimizer state still cannot.
    Scenario(
        'BAM into PAM, --resume --allow-partial-load', nothing,
        lambda case: train(case, '--resume', case.bam, '--allow-partial-load'),
        ['{root}/bam.pth', 'optimizer state has parameter groups']),
    Scenario('another architecture to tools/test.py', nothing,
             lambda case: run_test(case, case.bam),
             ['{root}/bam.pth', 'does not fit the model SiamEncoderDecoder']),
    Scenario(
        'tools/test.py --out into an unwritable folder',
        file_in_the_way, lambda case: run_test(
            case, case.bam, '--out', f'{case.root}/a-file/results.pkl'),
        ['--out', '{root}/a-file is not a folder']),
    Scenario(
        'converter given the wrong family', nothing, lambda case: convert(
            'swin2mmzoo.py', case.resnet18, f'{case.root}/swin.pth'),
        ['{root}/resnet18.pth', 'not an official Swin']),
]


def error_of(run, case, capsys):
    """The one error ``run(case)`` ends in: an exception's message, or what a
    command line printed when it exited."""
    with pytest.raises((Exception, SystemExit)) as info:
        run(case)
    error = info.value
    if isinstance(error, SystemExit) and not isinstance(error.code, str):
        return capsys.readouterr().err  # argparse: usage, then the error
    return str(error.code if isinstance(error, SystemExit) else error)


def check(case, run, says, capsys, prepare=nothing):
    prepare(case)
    before = snapshot(case.root)
    message = error_of(run, case, capsys)
    for fragment in says:
        assert fragment.format(data=case.data, root=case.root) in message, \
            message
    assert snapshot(case.root) == before
    assert not osp.exists(case.marker)


@pytest.mark.parametrize(
    'scenario', SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_bad_input(case, scenario, capsys):
    check(case, scenario.run, scenario.says, capsys, scenario.prepare)


@pytest.mark.parametrize('family', FAMILIES, ids=[f.name for f in FAMILIES])
def test_misspelled_model_argument(case, family, capsys):
    check(
        case, lambda case: train(
            case,
            '--cfg-options',
            family.misspelled,
            config=osp.join(REPO, family.config)),
        [family.key, 'unexpected keyword argument'], capsys)


@pytest.mark.parametrize('family', FAMILIES, ids=[f.name for f in FAMILIES])
def test_checkpoint_of_another_architecture(case, family, capsys):
    """STANet-BAM's training checkpoint as load_from of every family."""
    check(
        case, lambda case: train(
            case,
            '--cfg-options',
            f'load_from={case.bam}',
            config=osp.join(REPO, family.config)),
        ['{root}/bam.pth', 'does not fit the model', 'missing keys'], capsys)


@pytest.mark.skipif(
    not hasattr(os, 'geteuid') or os.geteuid() == 0,
    reason='root writes into any folder')
def test_out_into_a_read_only_folder(case, capsys):
    folder = osp.join(case.root, 'read-only')
    os.mkdir(folder, 0o555)
    check(
        case, lambda case: run_test(case, case.bam, '--out',
                                    f'{folder}/results.pkl'),
        ['cannot write in', folder], capsys)
