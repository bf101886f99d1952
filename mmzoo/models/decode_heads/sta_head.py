"""STANet's spatial-temporal attention and metric module.

Chen and Shi, "A Spatial-Temporal Attention-Based Method and a New Dataset
for Remote Sensing Image Change Detection", Remote Sensing 2020. Follows the
official code (github justchenhao/STANet: models/BAM.py, models/PAM2.py,
models/backbone.py ``CDSA``, models/CDFA_model.py).

Both attention modules see the two dates' feature maps side by side, one
map of width ``2w``, so every pixel attends to pixels of both dates.
"""
from typing import List, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import build_norm_layer
from mmengine.model import BaseModule
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.utils import SampleList
from torch import Tensor

from mmzoo.registry import MODELS
from ..utils.chunked_attention import chunked_attention


def _region_bounds(length: int, scale: int) -> List[Tuple[int, int]]:
    """The official partition: ``scale`` parts of ``length // scale``, the last
    one taking the remainder."""
    step = length // scale
    return [(i * step, length if i == scale - 1 else (i + 1) * step)
            for i in range(scale)]


def _to_windows(x: torch.Tensor, scale: int) -> torch.Tensor:
    """(B, C, h, 2w) side-by-side map → (B·scale², 2·h·w/scale², C): one window
    per region holding that region of both dates."""
    b, c, h, w2 = x.shape
    w = w2 // 2
    x = x.reshape(b, c, scale, h // scale, 2, scale, w // scale)
    x = x.permute(0, 2, 5, 4, 3, 6, 1)
    return x.reshape(b * scale * scale, -1, c)


def _from_windows(x: torch.Tensor, batch: int, h: int, w: int,
                  scale: int) -> torch.Tensor:
    """Inverse of :func:`_to_windows`; ``w`` is one date's width."""
    c = x.shape[-1]
    x = x.reshape(batch, scale, scale, 2, h // scale, w // scale, c)
    x = x.permute(0, 6, 1, 4, 3, 2, 5)
    return x.reshape(batch, c, h, 2 * w)


def _attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
            scale: int) -> torch.Tensor:
    """Scaled dot-product attention within the ``scale``×``scale`` regions of
    side-by-side maps (B, C, h, 2w); a region's window holds its pixels in both
    dates."""
    b, _, h, w2 = q.shape
    w = w2 // 2
    factor = q.shape[1]**-0.5
    if h % scale == 0 and w % scale == 0:
        out = chunked_attention(
            _to_windows(q, scale), _to_windows(k, scale),
            _to_windows(v, scale), factor)
        return _from_windows(out, b, h, w, scale)

    # Unequal regions (the last ones take the remainder) cannot share one
    # batch: attend region by region.
    def region(x, rows, cols):
        (r0, r1), (c0, c1) = rows, cols
        both = torch.cat([x[..., r0:r1, c0:c1], x[..., r0:r1, w + c0:w + c1]],
                         dim=3)
        return both.flatten(2).transpose(1, 2)

    rows_out = []
    for rows in _region_bounds(h, scale):
        dates = ([], [])
        for cols in _region_bounds(w, scale):
            out = chunked_attention(
                region(q, rows, cols), region(k, rows, cols),
                region(v, rows, cols), factor)
            rh, rw = rows[1] - rows[0], cols[1] - cols[0]
            out = out.transpose(1, 2).reshape(b, -1, rh, 2 * rw)
            dates[0].append(out[..., :rw])
            dates[1].append(out[..., rw:])
        rows_out.append(torch.cat(dates[0] + dates[1], dim=3))
    return torch.cat(rows_out, dim=2)


def _check_side_by_side(x: torch.Tensor, scale: int, ds: int) -> None:
    h, w = x.shape[2] // ds, x.shape[3] // 2 // ds
    if x.shape[3] % 2 or min(h, w) < scale:
        raise ValueError(
            f'attention input {tuple(x.shape)} must hold two dates side by '
            f'side (even width) with at least {scale} pixels per side after '
            f'pooling by {ds}')


def _pool_dates(pool: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Pool each date on its own, so no window straddles the seam."""
    if isinstance(pool, nn.Identity):
        return x
    w = x.shape[3] // 2
    return torch.cat([pool(x[..., :w]), pool(x[..., w:])], dim=3)


class BAM(BaseModule):
    """Basic spatial-temporal attention module: self-attention over all pixels
    of both dates, added to its input.

    Queries and keys are 1×1 convolutions to ``in_channels // 8`` channels,
    values a 1×1 convolution to ``in_channels``, all with bias; the
    similarities are scaled by ``(in_channels // 8) ** -0.5``. With
    ``ds > 1`` attention runs on average-pooled features and its output is
    upsampled (nearest) before the residual sum. (The official module also
    defines a ``gamma`` parameter that it never uses; it is left out.)

    Args:
        in_channels (int): Feature channels.
        ds (int): Pooling factor before attention. Default: 1.
    """

    def __init__(self, in_channels: int, ds: int = 1, init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        key_channels = in_channels // 8
        self.ds = ds
        self.pool = nn.AvgPool2d(ds) if ds > 1 else nn.Identity()
        self.query = nn.Conv2d(in_channels, key_channels, 1)
        self.key = nn.Conv2d(in_channels, key_channels, 1)
        self.value = nn.Conv2d(in_channels, in_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, C, h, 2w), the dates side by side."""
        _check_side_by_side(x, 1, self.ds)
        pooled = _pool_dates(self.pool, x)
        out = _attend(
            self.query(pooled), self.key(pooled), self.value(pooled), 1)
        if self.ds > 1:
            out = F.interpolate(out, size=x.shape[2:], mode='nearest')
        return out + x


def _conv_norm(in_channels: int, out_channels: int,
               norm_cfg: dict) -> nn.Sequential:
    # The official 1×1 convolution keeps its bias before the BN, so that
    # official weights load; ConvModule would warn about it.
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 1),
        build_norm_layer(norm_cfg, out_channels)[1])


class PAMBlock(BaseModule):
    """Attention within the ``scale``×``scale`` regions of the dates (one
    window per region, holding that region of both dates): one branch of the
    pyramid attention module.

    Queries and keys are 1×1 convolutions (with bias) followed by BN,
    values a plain 1×1 convolution, as in the official ``_PAMBlock``. The
    branch returns the attention output without a residual.

    Args:
        in_channels (int): Feature channels.
        key_channels (int): Query/key channels.
        value_channels (int): Value (and output) channels.
        scale (int): Regions per side.
        ds (int): Pooling factor before attention. Default: 1.
        norm_cfg (dict): Norm after the query and key convolutions.
    """

    def __init__(self,
                 in_channels: int,
                 key_channels: int,
                 value_channels: int,
                 scale: int,
                 ds: int = 1,
                 norm_cfg: dict = dict(type='BN', requires_grad=True),
                 init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.scale = scale
        self.ds = ds
        self.pool = nn.AvgPool2d(ds) if ds > 1 else nn.Identity()
        self.query = _conv_norm(in_channels, key_channels, norm_cfg)
        self.key = _conv_norm(in_channels, key_channels, norm_cfg)
        self.value = nn.Conv2d(in_channels, value_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, C, h, 2w), the dates side by side."""
        _check_side_by_side(x, self.scale, self.ds)
        pooled = _pool_dates(self.pool, x)
        out = _attend(
            self.query(pooled), self.key(pooled), self.value(pooled),
            self.scale)
        if self.ds > 1:
            out = F.interpolate(out, size=x.shape[2:], mode='nearest')
        return out


class PAM(BaseModule):
    """Pyramid spatial-temporal attention module: :class:`PAMBlock` at each
    scale, outputs concatenated and fused by a 1×1 convolution without bias or
    norm (the official ``PAM``; no residual).

    Args:
        in_channels (int): Feature channels (also the output channels).
        scales (Sequence[int]): Regions per side of each branch.
            Default: (1, 2, 4, 8).
        ds (int): Pooling factor before attention. Default: 1.
        norm_cfg (dict): Norm after the query and key convolutions.
    """

    def __init__(self,
                 in_channels: int,
                 scales: Sequence[int] = (1, 2, 4, 8),
                 ds: int = 1,
                 norm_cfg: dict = dict(type='BN', requires_grad=True),
                 init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.blocks = nn.ModuleList(
            PAMBlock(in_channels, in_channels //
                     8, in_channels, s, ds, norm_cfg) for s in scales)
        self.fuse = nn.Conv2d(
            in_channels * len(scales), in_channels, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fuse(torch.cat([block(x) for block in self.blocks], 1))


@MODELS.register_module()
class STAHead(BaseDecodeHead):
    """STANet's attention and metric module: relates the two dates' embeddings,
    then measures their per-pixel distance.

    The embeddings of dates A and B are placed side by side, refined by the
    attention (``'none'``: the base model; ``'bam'``; ``'pam'``), split
    again, and their per-pixel L2 distance is the change score. STANet
    upsamples the distance bilinearly (``align_corners=True``) to the image
    size, where the loss compares it with the labels and where pixels
    farther apart than ``threshold`` are changes.

    The official distance is ``F.pairwise_distance(a, b, keepdim=True)``,
    which in the PyTorch of its time (≤ 1.9) reduced dimension 1, the
    channels; later PyTorch reduces the last dimension instead. This is the
    channel norm of ``a - b + 1e-6``, as the official code computed it.

    **The bitemporal contract.** An mmseg decode head whose ``inputs`` are
    the two dates; :class:`mmzoo.SiamEncoderDecoder` calls it through
    mmseg's interface, and other change heads follow the same pattern:

    - ``inputs`` (of :meth:`forward`, :meth:`loss`, :meth:`predict`) is the
      pair ``(feat_a, feat_b)``: date A's and date B's embeddings, each as
      the shared backbone and neck return it for one date (here one
      (N, C, h, w) map each).
    - :meth:`forward` returns the change score at the embeddings'
      resolution, (N, 1, h, w) (``out_channels=1``; ``num_classes=2``,
      unchanged and changed): a distance, larger meaning more change.
    - :meth:`predict_by_feat` upsamples the score to the network input,
      the metas' ``pad_shape`` (else ``img_shape``), as mmseg's heads do.
    - :meth:`loss_by_feat` upsamples it to the labels (``gt_sem_seg``: 1
      changed, 0 unchanged, ``ignore_index`` left out) and returns the sum
      of the ``loss_decode`` losses by name, and ``acc_change``: the
      percentage of valid pixels that ``threshold`` classifies right.
    - A pixel is changed where its score exceeds ``threshold``.

    Args:
        in_channels (int): Embedding channels. Default: 64.
        attention (str): 'none', 'bam' or 'pam'. Default: 'pam'.
        pam_scales (Sequence[int]): PAM's regions per side.
            Default: (1, 2, 4, 8).
        ds (int): Pooling inside the attention (official ``--ds``).
            Default: 1.
        threshold (float): Distance above which a pixel is changed; the
            official 1.0 is half of BCL's margin 2. Default: 1.0.
        align_corners (bool): Of the distance upsampling. Default: True.
        norm_cfg (dict): Norm inside PAM. Default: BN.
        loss_decode (dict | Sequence[dict]): The loss, or losses summed by
            their ``loss_name``; each takes ``(distance, label)``.
            Default: ``mmzoo.BCLLoss``, margin 2.
        ignore_index (int): Label left out of ``acc_change``; a loss with an
            ``ignore_index`` of its own must agree. Default: 255.
        init_cfg (dict or list[dict], optional): Default as official
            (``backbone.weights_init``): convolutions N(0, 0.02), BN weights
            N(1, 0.02); biases 0.
    """
    attentions = ('none', 'bam', 'pam')

    def __init__(self,
                 in_channels: int = 64,
                 attention: str = 'pam',
                 pam_scales: Sequence[int] = (1, 2, 4, 8),
                 ds: int = 1,
                 threshold: float = 1.0,
                 align_corners: bool = True,
                 norm_cfg: dict = dict(type='BN', requires_grad=True),
                 loss_decode: Union[dict, Sequence[dict]] = dict(
                     type='mmzoo.BCLLoss', margin=2.0),
                 ignore_index: int = 255,
                 init_cfg=None) -> None:
        if attention not in self.attentions:
            raise ValueError(f'STAHead attention must be one of '
                             f'{self.attentions}, got {attention!r}')
        if init_cfg is None:
            init_cfg = [
                dict(type='Normal', layer='Conv2d', std=0.02),
                dict(type='Normal', layer='_BatchNorm', mean=1.0, std=0.02)
            ]
        # mmseg's base always builds a 1x1 classifier, conv_seg, which a
        # distance head has no use for. Building it on a forked random
        # stream and dropping it keeps the head's parameters (and so its
        # checkpoints) and a seeded run's initial weights what they are
        # without it.
        with torch.random.fork_rng(devices=[]):
            super().__init__(
                in_channels,
                in_channels,
                num_classes=2,
                out_channels=1,
                threshold=threshold,
                dropout_ratio=0,
                norm_cfg=norm_cfg,
                loss_decode=loss_decode,
                ignore_index=ignore_index,
                align_corners=align_corners,
                init_cfg=init_cfg)
        del self.conv_seg
        self._check_loss_ignore_index()
        self.attention_type = attention
        if attention == 'bam':
            self.attention = BAM(in_channels, ds)
        elif attention == 'pam':
            self.attention = PAM(in_channels, pam_scales, ds, norm_cfg)
        else:
            self.attention = nn.Identity()

    def _losses(self) -> List[nn.Module]:
        if isinstance(self.loss_decode, nn.ModuleList):
            return list(self.loss_decode)
        return [self.loss_decode]

    def _check_loss_ignore_index(self) -> None:
        for loss in self._losses():
            own = getattr(loss, 'ignore_index', self.ignore_index)
            if own != self.ignore_index:
                raise ValueError(
                    f'STAHead ignore_index={self.ignore_index} but its '
                    f'loss_decode {type(loss).__name__} ignores {own}: the '
                    'loss and acc_change would leave out different pixels')

    def forward(self, inputs: Sequence[Tensor]) -> Tensor:
        """Distance map (N, 1, h, w) at the embeddings' resolution.

        Args:
            inputs (Sequence[Tensor]): ``(feat_a, feat_b)``, the dates'
                embeddings, (N, C, h, w) each.
        """
        feat_a, feat_b = self._dates(inputs)
        w = feat_a.shape[3]
        both = self.attention(torch.cat([feat_a, feat_b], dim=3))
        diff = both[..., :w] - both[..., w:] + 1e-6
        return torch.linalg.vector_norm(diff, dim=1, keepdim=True)

    @staticmethod
    def _dates(inputs: Sequence[Tensor]) -> Tuple[Tensor, Tensor]:
        if len(inputs) != 2:
            raise ValueError(
                'STAHead takes the pair (feat_a, feat_b) of the two dates\' '
                f'embeddings, got {len(inputs)} inputs')
        feat_a, feat_b = inputs
        if feat_a.shape != feat_b.shape:
            raise ValueError(f'the dates\' embeddings differ in shape: '
                             f'{tuple(feat_a.shape)} vs {tuple(feat_b.shape)}')
        return feat_a, feat_b

    def _upsample(self, distance: Tensor, size: Sequence[int]) -> Tensor:
        return F.interpolate(
            distance,
            size=tuple(size),
            mode='bilinear',
            align_corners=self.align_corners)

    def predict_by_feat(self, seg_logits: Tensor,
                        batch_img_metas: List[dict]) -> Tensor:
        """The distance map upsampled to the network input's size."""
        meta = batch_img_metas[0]
        size = meta['pad_shape'] if 'pad_shape' in meta else meta['img_shape']
        return self._upsample(seg_logits, size[:2])

    def loss_by_feat(self, seg_logits: Tensor,
                     batch_data_samples: SampleList) -> dict:
        """The losses at the labels' resolution (that of the padded batch) and
        ``acc_change``."""
        label = self._stack_batch_gt(batch_data_samples).to(seg_logits.device)
        distance = self._upsample(seg_logits, label.shape[2:])
        losses = dict()
        for loss_decode in self._losses():
            loss = loss_decode(distance, label)
            name = loss_decode.loss_name
            losses[name] = losses[name] + loss if name in losses else loss
        with torch.no_grad():
            valid = label != self.ignore_index
            changed = (distance > self.threshold) & valid
            acc = ((changed == (label == 1)) & valid).sum() / \
                valid.sum().clamp(min=1)
        losses['acc_change'] = acc * 100
        return losses
