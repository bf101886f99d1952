"""Which classifiers the table measures, and how each is measured (parameters,
MACs, CPU forward time and peak inference memory)."""
import copy
import glob
import json
import os
import os.path as osp
import platform
import re
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Callable, List, Optional

import torch
from mmengine.analysis import FlopAnalyzer
from mmengine.config import Config

import mmzoo
import mmzoo.models  # noqa: F401  (registers our backbones)
from mmzoo.ops import WINDOW_ATTENTION_OPS, window_attention_flop_jit
from mmzoo.registry import MODELS

IMAGE = (3, 224, 224)
# The first forward creates oneDNN primitives and grows the allocator; the
# second is already steady, so two warm-ups keep the repeats comparable.
WARMUP = 2
# glibc serves allocations above this size with mmap and returns them to the
# OS on free, so the memory worker's RSS follows the live tensors.
MMAP_THRESHOLD = 64 * 1024
MEMORY_WORKER = 'mmzoo.analysis.backbone_table.memory_worker'

# --------------------------------------------------------------------------
# Which models to measure
# --------------------------------------------------------------------------


def find_configs(repo: str, only: Optional[str] = None) -> List[str]:
    """Every ImageNet config of the repository at ``repo``, so that a new
    family joins by adding one."""
    paths = sorted(
        glob.glob(osp.join(repo, 'configs', '*', '*_in1k.py')),
        key=natural_key)
    if only:
        paths = [p for p in paths if only in osp.basename(p)]
    return paths


def natural_key(path: str) -> list:
    """Depth order: resnest50 before resnest101."""
    return [
        int(part) if part.isdigit() else part
        for part in re.split(r'(\d+)', path)
    ]


def variant_name(config: str) -> str:
    """``res2net50-26w4s_8xb32_in1k.py`` -> ``res2net50-26w4s``."""
    return osp.basename(config).split('_')[0]


def load_model_cfg(config: str) -> dict:
    """The config's model without pretrained weights: they cannot be downloaded
    here, and the weights' values do not change the counts."""
    model = Config.fromfile(config).model.to_dict()
    model['backbone'].pop('init_cfg', None)
    model['backbone'].pop('pretrained', None)
    return model


def build(model_cfg: dict) -> torch.nn.Module:
    return MODELS.build(copy.deepcopy(model_cfg)).eval()


def unconfigured_backbones(configs: List[str]) -> List[str]:
    """Registered backbones that none of ``configs`` builds yet."""
    covered = {
        load_model_cfg(c)['backbone']['type'].split('.')[-1]
        for c in configs
    }
    registered = {
        name
        for name, cls in MODELS.module_dict.items()
        if cls.__module__.startswith('mmzoo.models.backbones')
    }
    return sorted(registered - covered)


# --------------------------------------------------------------------------
# Measurements
# --------------------------------------------------------------------------


@dataclass
class Measures:
    params: int
    macs: int
    seconds: List[float] = field(default_factory=list)
    peak_mib: Optional[float] = None

    def images_per_second(self, batch: int) -> Optional[float]:
        return batch / statistics.median(self.seconds) \
            if self.seconds else None


def count_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def count_macs(model: torch.nn.Module) -> int:
    """mmengine's FlopAnalyzer, which (as fvcore) counts one multiply-add as
    one operation: its "flops" are MACs."""
    analyzer = FlopAnalyzer(model, (torch.randn(1, *IMAGE), ))
    analyzer.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
    for op in WINDOW_ATTENTION_OPS:
        analyzer.set_op_handle(op, window_attention_flop_jit)
    return int(analyzer.total())


def time_interleaved(models: List[torch.nn.Module], batch: int, repeats: int,
                     step: Callable[[], None]) -> List[list]:
    """Seconds per forward of each model, alternating the models every repeat
    (A/B/A/B) so that load from other processes hits them alike."""
    inputs = torch.randn(batch, *IMAGE)
    seconds = [[] for _ in models]
    with torch.no_grad():
        for _ in range(WARMUP + repeats):
            for model, times in zip(models, seconds):
                start = time.perf_counter()
                model(inputs)
                times.append(time.perf_counter() - start)
            step()
    return [times[WARMUP:] for times in seconds]


def peak_memory_mib(model_cfg: dict, batch: int) -> Optional[float]:
    """Peak inference memory measured in a fresh interpreter, so that neither
    the other model nor earlier rows leave memory behind."""
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_=str(MMAP_THRESHOLD))
    request = dict(
        model=model_cfg, batch=batch, threads=torch.get_num_threads())
    # From the folder holding this mmzoo, `-m` finds this same copy first.
    result = subprocess.run(
        [sys.executable, '-m', MEMORY_WORKER,
         json.dumps(request)],
        cwd=osp.dirname(osp.dirname(osp.abspath(mmzoo.__file__))),
        env=env,
        capture_output=True,
        text=True,
        check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])['peak_mib']


# --------------------------------------------------------------------------
# The machine a run measures on
# --------------------------------------------------------------------------


def load_average() -> str:
    return ', '.join(f'{v:.2f}' for v in os.getloadavg())


def machine_lines(load_at_start: str) -> List[str]:
    """The CPU, libraries and load of this run, as Markdown list items."""
    cpu = platform.processor() or platform.machine()
    with open('/proc/cpuinfo') as f:
        names = re.findall(r'^model name\s*:\s*(.+)$', f.read(), re.M)
    cpu = names[0] if names else cpu
    import mmpretrain
    return [
        f'- CPU: {cpu}, {os.cpu_count()} logical cores '
        f'({len(os.sched_getaffinity(0))} available to the run)',
        f'- torch {torch.__version__.split("+")[0]} with '
        f'{torch.get_num_threads()} threads, mmpretrain '
        f'{mmpretrain.__version__}, Python {platform.python_version()}',
        f'- load average (1, 5, 15 min) when the run started: '
        f'{load_at_start}; when it ended: {load_average()}',
    ]
