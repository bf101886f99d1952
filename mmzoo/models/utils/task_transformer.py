"""T2Net's task transformer: texture of one task's features transferred to the
other's, by hard attention over 3×3 patches.

Feng et al., "Task Transformer Network for Joint MRI Reconstruction and
Super-Resolution", MICCAI 2021 (github chunmeifeng/T2Net, models/T2net.py,
``Transformer``). Every query patch (from the super-resolution branch) is
compared with every key patch (from the reconstruction branch) by the cosine
of their unfolded 3×3 neighbourhoods; the best key's value patch is copied
to the query position (hard attention) and the winning cosine weighs what
the fused texture adds (soft attention).

The official code forms the relevance of all patch pairs, a (H·W)² matrix:
at 128² features it is 1 GiB per image, at 256² 16 GiB, and its backward
pass scatters the max's gradient into a second one.
:func:`hard_patch_attention` walks the query positions in tiles and keeps
only each query's best key; the winning relevance is then recomputed from
the two patches, which gives the max's value and exactly the max's gradient
(to the winning pair only).
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

# Relevances computed at once (elements): 2**23 floats (32 MiB) per tile
# bounds the peak memory while every tile is still a large matrix product
# (benchmarks/t2net_transformer.py).
DEFAULT_TILE_ELEMENTS = 2**23


def hard_patch_attention(query: torch.Tensor,
                         key: torch.Tensor,
                         value: torch.Tensor,
                         tile_elements: int = DEFAULT_TILE_ELEMENTS):
    """The best key patch of every query patch, and the value it carries.

    Args:
        query (Tensor): (N, C, H, W) features whose patches search.
        key (Tensor): (N, C, Hk, Wk) features whose patches are searched.
        value (Tensor): (N, Cv, Hk, Wk) features transferred, aligned with
            ``key``.
        tile_elements (int): Relevances (key positions × query positions)
            held at once.

    Returns:
        tuple[Tensor, Tensor]: The relevance ``S`` (N, 1, H, W), the cosine
        between each query patch and its best key patch, and the transferred
        texture ``T`` (N, Cv, H, W): the best keys' 3×3 value patches folded
        back onto the query grid and averaged over their overlaps.
    """
    if query.dim() != 4 or key.dim() != 4 or value.dim() != 4 \
            or key.shape[:2] != query.shape[:2] \
            or value.shape[0] != key.shape[0] \
            or value.shape[2:] != key.shape[2:]:
        raise ValueError(
            'hard_patch_attention wants query (N, C, H, W), key (N, C, Hk, '
            'Wk) and value (N, Cv, Hk, Wk); got query '
            f'{tuple(query.shape)}, key {tuple(key.shape)}, value '
            f'{tuple(value.shape)}')
    n, _, h, w = query.shape
    q = F.normalize(F.unfold(query, 3, padding=1), dim=1)  # N, 9C, HW
    k = F.normalize(F.unfold(key, 3, padding=1), dim=1)  # N, 9C, HkWk
    v = F.unfold(value, 3, padding=1)  # N, 9Cv, HkWk
    positions = q.shape[2]
    cols = max(1, tile_elements // k.shape[2])
    best = torch.empty(n, positions, dtype=torch.long, device=q.device)
    with torch.no_grad():
        # Queries as rows: each tile's argmax runs along contiguous memory.
        query_t = q.transpose(1, 2)
        for start in range(0, positions, cols):
            stop = min(start + cols, positions)
            best[:, start:stop] = torch.bmm(query_t[:, start:stop],
                                            k).argmax(2)
    index = best.unsqueeze(1)
    relevance = (torch.gather(k, 2, index.expand(-1, k.shape[1], -1)) *
                 q).sum(1)
    texture = torch.gather(v, 2, index.expand(-1, v.shape[1], -1))
    texture = F.fold(texture, (h, w), 3, padding=1) / 9.
    return relevance.view(n, 1, h, w), texture


class TaskTransformer(nn.Module):
    """One task transformer: ``q + conv1x1([q, T]) · S``.

    The queries are the super-resolution branch's features, keys and values
    the reconstruction branch's (as the official model calls it,
    ``transformer(x2, x2, x1)``); :func:`hard_patch_attention` gives the
    transferred texture ``T`` and the relevance ``S``.

    Args:
        channels (int): Channels of both branches' features.
        tile_elements (int): See :func:`hard_patch_attention`.
    """

    def __init__(self,
                 channels: int,
                 tile_elements: int = DEFAULT_TILE_ELEMENTS) -> None:
        super().__init__()
        self.fuse = nn.Conv2d(2 * channels, channels, 1)
        self.tile_elements = tile_elements

    def forward(self, query: torch.Tensor,
                source: torch.Tensor) -> torch.Tensor:
        relevance, texture = hard_patch_attention(query, source, source,
                                                  self.tile_elements)
        return query + self.fuse(torch.cat([query, texture], 1)) * relevance
