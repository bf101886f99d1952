"""Synchronised batch normalisation that also runs on CPU (gloo)."""
import torch
import torch.distributed as dist
from torch import Tensor
from torch.nn.modules.batchnorm import _BatchNorm


class _AllReduceSum(torch.autograd.Function):
    """A sum over ranks whose gradient is the sum of the ranks' gradients:

    each rank's loss depends on every rank's input through the sum.
    """

    @staticmethod
    def forward(ctx, tensor: Tensor, group) -> Tensor:
        ctx.group = group
        tensor = tensor.clone()
        dist.all_reduce(tensor, group=group)
        return tensor

    @staticmethod
    def backward(ctx, grad: Tensor):
        return _AllReduceSum.apply(grad, ctx.group), None


def _all_reduce(tensor: Tensor, group) -> Tensor:
    return _AllReduceSum.apply(tensor, group)


class CPUSyncBatchNorm(_BatchNorm):
    """:class:`torch.nn.SyncBatchNorm` for processes without an accelerator.

    torch's SyncBN, and DistributedDataParallel given one, refuse CPU
    modules. This one all-reduces each channel's sum and count, then its
    centred sum of squares, through a differentiable all-reduce, so that
    every rank normalises with the statistics of the whole batch across
    ranks, and the backward pass sums the statistics' gradients across ranks
    as torch's SyncBN does; under DistributedDataParallel's gradient
    averaging the parameters then move exactly as one process's BatchNorm
    over the whole batch. It keeps torch's SyncBN's state
    (``process_group`` and the same state-dict keys); in eval mode or in a
    single process it is plain batch norm.
    :class:`~mmzoo.engine.cpu_distributed.CPUDistributedDataParallel` turns
    the SyncBN layers of a CPU model into these.
    """

    process_group = None

    def _check_input_dim(self, input: Tensor) -> None:
        if input.dim() < 2:
            raise ValueError(
                f'expected at least 2D input (got {input.dim()}D input)')

    def forward(self, input: Tensor) -> Tensor:
        if (not self.training or not dist.is_initialized()
                or dist.get_world_size(self.process_group) < 2):
            return super().forward(input)
        self._check_input_dim(input)
        group = self.process_group or dist.group.WORLD
        channels = input.size(1)
        dims = [0, *range(2, input.dim())]
        shape = [1, channels] + [1] * (input.dim() - 2)
        count = input.new_full((1, ), input.numel() / channels)
        # Two passes, as torch's batch norm: E[x^2] - E[x]^2 in float32
        # loses the variance of features whose spread is small beside their
        # mean (globally pooled ones).
        sums = _all_reduce(torch.cat([input.sum(dims), count]), group)
        total = sums[-1]
        mean = sums[:channels] / total
        centred = input - mean.view(shape)
        var = _all_reduce(centred.square().sum(dims), group) / total
        if self.track_running_stats:
            self._update_running_stats(mean.detach(), var.detach(), total)
        out = centred * torch.rsqrt(var.view(shape) + self.eps)
        if self.affine:
            out = out * self.weight.view(shape) + self.bias.view(shape)
        return out

    @torch.no_grad()
    def _update_running_stats(self, mean: Tensor, var: Tensor,
                              total: Tensor) -> None:
        """As torch's batch norm: the unbiased variance, and a cumulative
        average when ``momentum`` is None."""
        self.num_batches_tracked.add_(1)
        momentum = self.momentum
        if momentum is None:
            momentum = 1.0 / float(self.num_batches_tracked)
        unbiased = var * total / (total - 1)
        self.running_mean.lerp_(mean, momentum)
        self.running_var.lerp_(unbiased, momentum)
