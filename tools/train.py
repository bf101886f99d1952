"""Train any mmzoo config (segmentation, detection or classification).

Usage::

    python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT]] [--amp]
        [--auto-scale-lr] [--cfg-options KEY=VALUE ...]
        [--launcher none|pytorch|slurm|mpi]
"""
import argparse
import os
import os.path as osp

from mmengine.config import Config, DictAction
from mmengine.device import get_device
from mmengine.registry import RUNNERS
from mmengine.runner import Runner, find_latest_checkpoint

from mmzoo.engine import install_checkpoint_safety, load_checkpoint_file


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
        'latest checkpoint in the work dir')
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
    """Resume from ``resume`` ('auto': the work dir's latest checkpoint).

    A run without a fixed seed draws one at start; mmengine restores it only
    after the data samplers were seeded, so the resumed run would see other
    data. Taking the seed from the checkpoint before anything is built makes
    the resumed run continue exactly.
    """
    cfg.resume = True
    if resume == 'auto':
        cfg.load_from = None
        checkpoint = find_latest_checkpoint(cfg.work_dir)
    else:
        cfg.load_from = checkpoint = resume
    if checkpoint is None or cfg.get('randomness', {}).get('seed') is not None:
        return
    seed = load_checkpoint_file(checkpoint, 'cpu').get('meta', {}).get('seed')
    if seed is not None:
        cfg.setdefault('randomness', {})['seed'] = seed


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
    if args.resume is not None:
        configure_resume(cfg, args.resume)
    return cfg


def main(argv=None):
    args = parse_args(argv)
    install_checkpoint_safety()
    cfg = build_config(args)
    runner = Runner.from_cfg(cfg) if 'runner_type' not in cfg \
        else RUNNERS.build(cfg)
    runner.train()


if __name__ == '__main__':
    main()
