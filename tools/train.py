"""Train any mmzoo config (segmentation, detection or classification).

Usage::

    python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT]] [--amp]
        [--auto-scale-lr] [--allow-partial-load] [--cfg-options KEY=VALUE ...]
        [--launcher none|pytorch|slurm|mpi]

Checkpoints given with ``--resume`` or ``load_from`` must fit the model
exactly (``mmzoo.engine.MMZooRunner``); what goes wrong is listed in
docs/en/errors.md.
"""
import argparse
import os
import os.path as osp

from mmengine.config import Config, DictAction
from mmengine.device import get_device
from mmengine.registry import RUNNERS

from mmzoo.engine import (CheckpointError, MMZooRunner, UnsafeCheckpointError,
                          install_checkpoint_safety)
from mmzoo.engine.cpu_distributed import setup_cpu_distributed


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Train a model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='resume from this checkpoint; without a path, resume from the '
        'newest complete checkpoint in the work dir')
    parser.add_argument(
        '--amp',
        action='store_true',
        default=False,
        help='enable automatic-mixed-precision training')
    parser.add_argument(
        '--auto-scale-lr',
        action='store_true',
        help='scale the learning rate linearly from the config\'s '
        'auto_scale_lr.base_batch_size to the batch actually trained with '
        '(GPUs x samples per GPU)')
    parser.add_argument(
        '--allow-partial-load',
        action='store_true',
        help='load the tensors of a --resume or load_from checkpoint that '
        'fit the model and warn about the rest, instead of refusing a '
        'checkpoint that does not fit exactly')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings in the config, key=value pairs such as '
        'train_cfg.max_iters=100 or model.backbone.depth=101')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    # torch.distributed.launch passes --local-rank; torchrun sets LOCAL_RANK.
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def enable_amp(cfg: Config) -> None:
    if get_device() == 'cpu':
        raise SystemExit(
            'error: --amp needs an accelerator: mmengine\'s AmpOptimWrapper '
            'runs on CUDA, NPU, MLU or MUSA devices, and none is available')
    wrapper_type = cfg.optim_wrapper.get('type', 'OptimWrapper')
    if wrapper_type == 'AmpOptimWrapper':
        return
    if wrapper_type != 'OptimWrapper':
        raise ValueError(
            f'--amp supports configs whose optim_wrapper is OptimWrapper, '
            f'but {cfg.filename} uses {wrapper_type}')
    cfg.optim_wrapper.type = 'AmpOptimWrapper'
    cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')


def enable_auto_scale_lr(cfg: Config) -> None:
    base_batch_size = cfg.get('auto_scale_lr', {}).get('base_batch_size')
    if base_batch_size is None:
        raise ValueError(
            f'--auto-scale-lr needs auto_scale_lr.base_batch_size (the total '
            f'batch its learning rate was set for) in {cfg.filename}')
    cfg.auto_scale_lr.enable = True


def configure_resume(cfg: Config, resume: str) -> None:
    """Resume from ``resume`` ('auto': the newest complete checkpoint of the
    work dir, which MMZooRunner finds; it also takes the interrupted run's
    seed)."""
    cfg.resume = True
    cfg.load_from = None if resume == 'auto' else resume


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
    if args.amp:
        enable_amp(cfg)
    if args.auto_scale_lr:
        enable_auto_scale_lr(cfg)
    if args.allow_partial_load:
        cfg.allow_partial_load = True
    if args.resume is not None:
        configure_resume(cfg, args.resume)
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
        runner.train()
    except (CheckpointError, UnsafeCheckpointError) as error:
        raise SystemExit(f'error: {error}')


if __name__ == '__main__':
    main()
