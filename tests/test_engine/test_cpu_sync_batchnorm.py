"""CPUSyncBatchNorm on two gloo processes against torch's BatchNorm over the
ranks' batches put together (float64, so that only the arithmetic's order
differs)."""
import os
import socket
import subprocess
import sys
import textwrap

# Each rank normalises its share of one batch (3 and 1 of 4 samples: the
# counts must be all-reduced, not assumed equal), and its loss weighs its
# outputs; DDP would average the parameters' gradients, so their sum is
# compared with the gradient of the summed loss over the whole batch.
RANK = """
import torch
import torch.distributed as dist
from torch import nn
from mmzoo.engine.cpu_sync_batchnorm import CPUSyncBatchNorm

torch.set_default_dtype(torch.float64)
dist.init_process_group('gloo')
rank = dist.get_rank()
torch.manual_seed(0)
x = torch.randn(4, 3, 5, 6) * 4 + 2
weights = torch.randn(4, 3, 5, 6)
reference = nn.BatchNorm2d(3, momentum=0.3)
reference.weight.data.uniform_(0.5, 1.5)
reference.bias.data.uniform_(-1, 1)
synced = nn.SyncBatchNorm(3, momentum=0.3)
synced.load_state_dict(reference.state_dict())
synced.__class__ = CPUSyncBatchNorm

whole = x.clone().requires_grad_()
expected = reference(whole)
(expected * weights).sum().backward()

share = slice(0, 3) if rank == 0 else slice(3, 4)
part = x[share].clone().requires_grad_()
out = synced(part)
(out * weights[share]).sum().backward()

torch.testing.assert_close(out, expected[share], rtol=0, atol=1e-12)
torch.testing.assert_close(part.grad, whole.grad[share], rtol=0, atol=1e-12)
for name in ('weight', 'bias'):
    grad = getattr(synced, name).grad.clone()
    dist.all_reduce(grad)
    torch.testing.assert_close(
        grad, getattr(reference, name).grad, rtol=0, atol=1e-10)
for name in ('running_mean', 'running_var', 'num_batches_tracked'):
    torch.testing.assert_close(
        getattr(synced, name), getattr(reference, name), rtol=0, atol=1e-12)
synced.eval(), reference.eval()
torch.testing.assert_close(synced(x), reference(x), rtol=0, atol=1e-12)
print('rank', rank, 'agrees')
"""


def test_two_ranks_normalise_as_one_batch(tmp_path):
    script = tmp_path / 'rank.py'
    script.write_text(textwrap.dedent(RANK))
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    result = subprocess.run([
        sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node', '2',
        '--master_port',
        str(port), script
    ],
                            capture_output=True,
                            text=True,
                            env=dict(os.environ, OMP_NUM_THREADS='1'),
                            timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr[-4000:]
    assert result.stdout.count('agrees') == 2
