"""Evaluate a checkpoint with any mmzoo config.

Usage::

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--out RESULTS.pkl]
        [--show-dir DIR] [--show] [--allow-partial-load]
        [--cfg-options KEY=VALUE ...] [--launcher none|pytorch|slurm|mpi]

The checkpoint must fit the config's model exactly
(``mmzoo.engine.MMZooRunner``), and the folder of ``--out`` must be writable
before the test set is run; what goes wrong is listed in docs/en/errors.md.
"""
import argparse
import os
import os.path as osp
import tempfile

from mmengine.config import Config, DictAction
from mmengine.evaluator import DumpResults
from mmengine.registry import RUNNERS

from mmzoo.engine import (CheckpointError, MMZooRunner, UnsafeCheckpointError,
                          install_checkpoint_safety)
from mmzoo.engine.cpu_distributed import setup_cpu_distributed


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Test (and eval) a model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--work-dir', help='the dir to save the evaluation metrics')
    parser.add_argument(
        '--out', help='dump the predictions to this pickle file (.pkl)')
    parser.add_argument(
        '--show-dir',
        help='save pictures of the predictions (drawn over the inputs) here')
    parser.add_argument(
        '--show', action='store_true', help='show predictions in a window')
    parser.add_argument(
        '--wait-time', type=float, default=2, help='seconds per shown image')
    parser.add_argument(
        '--allow-partial-load',
        action='store_true',
        help='load the tensors of the checkpoint that fit the model and warn '
        'about the rest, instead of refusing a checkpoint that does not fit '
        'exactly')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings in the config, key=value pairs')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    if args.out is not None and not args.out.endswith(('.pkl', '.pickle')):
        parser.error(f'--out must be a .pkl file, got {args.out}')
    if args.out is not None:
        problem = unwritable(args.out)
        if problem:
            parser.error(f'--out {args.out}: {problem}')
    return args


def unwritable(path: str):
    """Why a file could not be written at ``path`` (its folder, or the nearest
    existing one above it, is not a writable folder), or None.

    Asked before the test set is run, so that its metrics are not lost at the
    end. The probe is an unnamed temporary file: nothing appears on disk.
    """
    folder = osp.dirname(osp.abspath(path))
    while not osp.exists(folder):
        folder = osp.dirname(folder)
    if not osp.isdir(folder):
        return f'{folder} is not a folder'
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        return f'cannot write in {folder} ({error.strerror})'
    return None


def enable_visualization(cfg: Config, show_dir, show: bool,
                         wait_time: float) -> None:
    """Switch on the task's visualisation hook, whichever toolbox it is."""
    hook = cfg.get('default_hooks', {}).get('visualization')
    if hook is None:
        raise ValueError(
            f'--show/--show-dir need default_hooks.visualization in '
            f'{cfg.filename}; the config has none')
    hook_type = hook['type'].split('.')[-1]
    hook.update(show=show, wait_time=wait_time)
    if hook_type == 'SegVisualizationHook':
        hook.update(draw=True, interval=1)
        if show_dir:
            cfg.visualizer['save_dir'] = show_dir
    elif hook_type in ('DetVisualizationHook',
                       'ReconstructionVisualizationHook'):
        # mmzoo's own test-time hooks take DetVisualizationHook's arguments.
        hook.update(draw=True, interval=1)
        if show_dir:
            hook['test_out_dir'] = osp.abspath(show_dir)
    elif hook_type == 'VisualizationHook':  # mmpretrain
        hook.update(enable=True, interval=1)
        if show_dir:
            hook['out_dir'] = osp.abspath(show_dir)
    else:
        raise ValueError(f'--show/--show-dir do not know the visualization '
                         f'hook {hook["type"]} of {cfg.filename}')


def build_config(args) -> Config:
    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])
    cfg.load_from = args.checkpoint
    if args.allow_partial_load:
        cfg.allow_partial_load = True
    if args.show or args.show_dir:
        enable_visualization(cfg, args.show_dir, args.show, args.wait_time)
    return cfg


def main(argv=None):
    args = parse_args(argv)
    install_checkpoint_safety()
    cfg = build_config(args)
    # torchrun or slurm on a machine without an accelerator: gloo and a CPU
    # DDP wrapper instead of mmengine's GPU-only set-up.
    setup_cpu_distributed(cfg)
    try:
        runner = MMZooRunner.from_cfg(cfg) if 'runner_type' not in cfg \
            else RUNNERS.build(cfg)
        if args.out is not None:
            runner.test_evaluator.metrics.append(
                DumpResults(out_file_path=args.out))
        return runner.test()
    except (CheckpointError, UnsafeCheckpointError) as error:
        raise SystemExit(f'error: {error}')


if __name__ == '__main__':
    main()
