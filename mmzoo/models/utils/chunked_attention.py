"""Exact softmax attention that never holds the full similarity matrix.

STANet's attention windows are large (at PAM's scale 1 on 64×64 features a
window of both dates holds 8,192 tokens, so one similarity matrix is 256 MiB
per image). :func:`chunked_attention` walks the queries in blocks: every block
sees all keys, so its softmax is exact, and only one block of similarities
exists at a time. Its backward pass recomputes each block from the log-sum-exp
it saved (as FlashAttention does) instead of storing the probabilities, so
training holds O(tokens) extra memory, not O(tokens²).
"""
import torch
import torch.nn.functional as F

# Similarities per block (elements). 2**20 floats (4 MiB) keeps a block and
# its probabilities in the last-level cache of a typical CPU, which is what
# makes the blocked loop faster than one large bmm on CPU
# (benchmarks/stanet_pam.py).
DEFAULT_BLOCK_ELEMENTS = 2**20


def _rows_per_block(windows: int, tokens: int, block_elements: int) -> int:
    return max(1, block_elements // max(1, windows * tokens))


class _ChunkedAttention(torch.autograd.Function):
    """softmax(q kᵀ · scale) v over query blocks, with a recomputing
    backward."""

    @staticmethod
    def forward(ctx, q, k, v, scale, block_elements):
        windows, tokens, _ = q.shape
        rows = _rows_per_block(windows, k.shape[1], block_elements)
        out = q.new_empty(windows, tokens, v.shape[2])
        lse = q.new_empty(windows, tokens, 1)
        key_t = k.transpose(1, 2)
        for start in range(0, tokens, rows):
            stop = min(start + rows, tokens)
            sim = torch.bmm(q[:, start:stop], key_t).mul_(scale)
            peak = sim.amax(dim=-1, keepdim=True)
            prob = sim.sub_(peak).exp_()
            total = prob.sum(dim=-1, keepdim=True)
            out[:, start:stop] = torch.bmm(prob, v).div_(total)
            lse[:, start:stop] = peak + total.log()
        ctx.save_for_backward(q, k, v, out, lse)
        ctx.scale = scale
        ctx.rows = rows
        return out

    @staticmethod
    def backward(ctx, grad_out):
        q, k, v, out, lse = ctx.saved_tensors
        scale, rows = ctx.scale, ctx.rows
        grad_out = grad_out.contiguous()
        grad_q = torch.empty_like(q)
        grad_k = torch.zeros_like(k)
        grad_v = torch.zeros_like(v)
        # dsoftmax: dS = P ∘ (dP − rowsum(dO ∘ O)).
        delta = (grad_out * out).sum(dim=-1, keepdim=True)
        key_t, value_t = k.transpose(1, 2), v.transpose(1, 2)
        for start in range(0, q.shape[1], rows):
            stop = min(start + rows, q.shape[1])
            q_blk, g_blk = q[:, start:stop], grad_out[:, start:stop]
            prob = torch.bmm(q_blk,
                             key_t).mul_(scale).sub_(lse[:,
                                                         start:stop]).exp_()
            grad_v.baddbmm_(prob.transpose(1, 2), g_blk)
            grad_sim = torch.bmm(g_blk,
                                 value_t).sub_(delta[:, start:stop]).mul_(prob)
            grad_q[:, start:stop] = torch.bmm(grad_sim, k).mul_(scale)
            grad_k.baddbmm_(grad_sim.transpose(1, 2), q_blk, alpha=scale)
        return grad_q, grad_k, grad_v, None, None


def chunked_attention(
        q: torch.Tensor,
        k: torch.Tensor,
        v: torch.Tensor,
        scale: float,
        block_elements: int = DEFAULT_BLOCK_ELEMENTS) -> torch.Tensor:
    """Softmax attention of each window's queries over its keys.

    Args:
        q (Tensor): Queries, (windows, tokens, key_channels).
        k (Tensor): Keys, (windows, tokens, key_channels).
        v (Tensor): Values, (windows, tokens, value_channels).
        scale (float): Factor on the similarities before the softmax.
        block_elements (int): Similarities computed at once on CPU; when
            all windows' similarities fit in one block they are computed
            in one go.

    Returns:
        Tensor: (windows, tokens, value_channels), equal to
        ``softmax(q @ k.transpose(1, 2) * scale, -1) @ v``.

    On CUDA the function is PyTorch's ``scaled_dot_product_attention``,
    whose memory-efficient and flash kernels compute the same thing without
    the similarity matrix either.
    """
    if q.dim() != 3 or k.shape != q.shape or v.shape[:2] != q.shape[:2]:
        raise ValueError(
            'chunked_attention wants q and k of one shape (windows, tokens, '
            'channels) and v with the same windows and tokens; got '
            f'q {tuple(q.shape)}, k {tuple(k.shape)}, v {tuple(v.shape)}')
    if q.is_cuda:
        return F.scaled_dot_product_attention(
            q.unsqueeze(1), k.unsqueeze(1), v.unsqueeze(1),
            scale=scale).squeeze(1)
    if q.shape[0] * q.shape[1] * k.shape[1] <= block_elements:
        # All similarities fit in one block: PyTorch's fused softmax and
        # autograd are faster than the blocked loop (PAM's finer scales).
        return torch.softmax(
            torch.bmm(q, k.transpose(1, 2)).mul_(scale), dim=-1) @ v
    return _ChunkedAttention.apply(q.contiguous(), k.contiguous(),
                                   v.contiguous(), scale, block_elements)
