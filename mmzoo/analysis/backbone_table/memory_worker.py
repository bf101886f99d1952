"""One peak-memory measurement, in the fresh interpreter that
:func:`~mmzoo.analysis.backbone_table.measure.peak_memory_mib` starts::

    python -m mmzoo.analysis.backbone_table.memory_worker \\
        '{"model": {...}, "batch": 8, "threads": 2}'

It prints ``{"peak_mib": ...}`` as its last line.
"""
import gc
import json
import re
import sys

import torch
from mmengine.registry import init_default_scope

from .measure import IMAGE, build


def proc_status_kib(key: str) -> int:
    with open('/proc/self/status') as f:
        return int(re.search(rf'^{key}:\s+(\d+) kB', f.read(), re.M)[1])


def memory_worker(model_cfg: dict, batch: int, threads: int) -> dict:
    """Peak growth of the resident set over one batch's forward, once a warm-up
    forward has made the one-time allocations.

    Writing 5 to clear_refs resets the kernel's high-water mark (VmHWM) to the
    current RSS, so the mark afterwards is the peak of this forward alone.
    """
    torch.set_num_threads(threads)
    torch.set_flush_denormal(True)
    init_default_scope('mmzoo')
    model = build(model_cfg)
    inputs = torch.randn(batch, *IMAGE)
    with torch.no_grad():
        model(inputs)
        gc.collect()
        before = proc_status_kib('VmRSS')
        try:
            with open('/proc/self/clear_refs', 'w') as f:
                f.write('5')
        except OSError:
            return dict(peak_mib=None)  # this kernel cannot reset the mark
        model(inputs)
        peak = proc_status_kib('VmHWM')
    return dict(peak_mib=(peak - before) / 1024)


if __name__ == '__main__':
    request = json.loads(sys.argv[1])
    print(
        json.dumps(
            memory_worker(request['model'], request['batch'],
                          request['threads'])))
