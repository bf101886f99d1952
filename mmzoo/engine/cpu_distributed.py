"""Distributed data parallel training and testing on machines without an
accelerator, started as on GPUs (torchrun or slurm, ``--launcher``)."""
import datetime
import os
import subprocess

import torch.distributed as dist
from mmengine.config import Config
from mmengine.device import get_device
from mmengine.model import MMDistributedDataParallel
from torch import nn

from mmzoo.registry import MODEL_WRAPPERS
from .cpu_sync_batchnorm import CPUSyncBatchNorm


@MODEL_WRAPPERS.register_module()
class CPUDistributedDataParallel(MMDistributedDataParallel):
    """mmengine's DDP wrapper for a model on CPU, whose SyncBN layers
    synchronise through gloo (:class:`CPUSyncBatchNorm`).

    mmengine's runner hands every DDP wrapper ``device_ids=[LOCAL_RANK]``,
    which torch refuses for a CPU module; a CPU module takes none.

    Args:
        module (nn.Module): The model, on CPU.
        device_ids: Ignored (the runner's default for GPUs).
        **kwargs: Passed to :class:`MMDistributedDataParallel`.
    """

    def __init__(self, module: nn.Module, device_ids=None, **kwargs) -> None:
        for layer in module.modules():
            if isinstance(layer, nn.SyncBatchNorm):
                layer.__class__ = CPUSyncBatchNorm
        super().__init__(module=module, device_ids=None, **kwargs)


def _slurm_environment() -> None:
    """The variables torch's env:// rendezvous reads, from slurm's, as
    mmengine's slurm launcher sets them."""
    node_list = os.environ['SLURM_NODELIST']
    os.environ.setdefault('MASTER_PORT', '29500')
    if 'MASTER_ADDR' not in os.environ:
        os.environ['MASTER_ADDR'] = subprocess.getoutput(
            f'scontrol show hostname {node_list} | head -n1')
    os.environ['WORLD_SIZE'] = os.environ['SLURM_NTASKS']
    os.environ['RANK'] = os.environ['SLURM_PROCID']
    os.environ['LOCAL_RANK'] = os.environ.get('SLURM_LOCALID', '0')


def setup_cpu_distributed(cfg: Config) -> None:
    """Prepare a distributed run (``cfg.launcher`` other than 'none') for a
    machine without an accelerator; elsewhere do nothing.

    mmengine's launchers pin each process to a GPU and default to NCCL, so on
    CPU they fail before training starts. This starts the process group with
    gloo (the timeout of ``env_cfg.dist_cfg`` kept), which mmengine's runner
    then uses as it is, and wraps the model in
    :class:`CPUDistributedDataParallel`, with the runner's own defaults
    (``broadcast_buffers=False``, the config's ``find_unused_parameters``)
    and the config's ``model_wrapper_cfg`` on top.

    Args:
        cfg (Config): The run's config, ``cfg.launcher`` set.
    """
    launcher = cfg.get('launcher', 'none')
    if launcher == 'none' or get_device() != 'cpu':
        return
    if launcher == 'slurm':
        _slurm_environment()
    elif launcher != 'pytorch':
        raise ValueError(
            f'--launcher {launcher} on a machine without an accelerator: '
            'mmzoo starts CPU processes with pytorch (torchrun, '
            'tools/dist_train.sh) or slurm (tools/slurm_train.sh)')
    wrapper = dict(cfg.get('model_wrapper_cfg') or {})
    wrapper_type = wrapper.pop('type', 'MMDistributedDataParallel')
    if wrapper_type.split('.')[-1] not in ('MMDistributedDataParallel',
                                           'CPUDistributedDataParallel'):
        raise ValueError(
            f'model_wrapper_cfg.type={wrapper_type} of {cfg.filename} needs '
            'an accelerator; on CPU mmzoo trains with '
            'MMDistributedDataParallel')
    options = dict(
        broadcast_buffers=False,
        find_unused_parameters=cfg.get('find_unused_parameters', False))
    options.update(wrapper)
    cfg.model_wrapper_cfg = dict(
        type='mmzoo.CPUDistributedDataParallel', **options)
    if not dist.is_initialized():
        timeout = cfg.get('env_cfg', {}).get('dist_cfg', {}).get('timeout')
        kwargs = {} if timeout is None else dict(
            timeout=datetime.timedelta(seconds=timeout))
        dist.init_process_group(backend='gloo', **kwargs)
