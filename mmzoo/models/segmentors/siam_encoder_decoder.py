"""Siamese encoder-decoder for change detection in mmseg.

The two dates of a pair travel as one 2·C-channel input (date A's channels,
then date B's); one backbone and neck embed each date, and a change head turns
the two embeddings into a distance map. Following STANet (Chen and Shi, Remote
Sensing 2020; github justchenhao/STANet, models/CDFA_model.py).
"""
from typing import List, Optional, Tuple

import torch
import torch.nn.functional as F
from mmengine.structures import PixelData
from mmseg.models.segmentors import BaseSegmentor
from mmseg.structures import SegDataSample
from torch import Tensor

from mmzoo.registry import MODELS
from ..utils import unpadded_samples


@MODELS.register_module()
class SiamEncoderDecoder(BaseSegmentor):
    """Shared-weight (Siamese) backbone and neck, then a change head.

    Each date passes through the backbone (and neck) on its own, as in the
    official code, so that BatchNorm normalises each date with its own
    batch statistics. The head (e.g. :class:`mmzoo.STAHead`) is an mmseg
    decode head given the pair of embeddings as its ``inputs`` (the
    bitemporal contract is written down in :class:`mmzoo.STAHead`); it
    returns a change-score map, and ``predict`` thresholds it at the
    head's ``threshold``.

    ``predict`` fills each :class:`SegDataSample` with ``pred_sem_seg``
    (0/1 change map at the original size) and ``seg_logits`` (the score
    map, 1×H×W), so mmseg's test loop, metrics and visualiser work
    unchanged.

    Args:
        backbone (dict): Backbone config, applied to each date.
        decode_head (dict): Change head config: an mmseg decode head
            (``forward``, ``loss``, ``predict``, ``threshold``,
            ``align_corners``) whose inputs are ``(feat_a, feat_b)``.
        neck (dict, optional): Neck config, applied to each date.
        train_cfg (dict, optional): Passed to the head's ``loss``, as
            mmseg's segmentors do.
        test_cfg (dict, optional): ``mode='whole'`` (default) or
            ``mode='slide'`` with ``crop_size`` and ``stride`` (h, w), and
            optionally ``windows_per_forward`` (default 8).
        data_preprocessor (dict, optional): mmseg's ``SegDataPreProcessor``
            with six-entry ``mean``/``std`` for an RGB pair.
        pretrained (str, optional): Backbone checkpoint.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 backbone: dict,
                 decode_head: dict,
                 neck: Optional[dict] = None,
                 train_cfg: Optional[dict] = None,
                 test_cfg: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None,
                 pretrained: Optional[str] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        if pretrained is not None:
            backbone = dict(backbone, pretrained=pretrained)
        self.backbone = MODELS.build(backbone)
        if neck is not None:
            self.neck = MODELS.build(neck)
        self.decode_head = MODELS.build(decode_head)
        self.align_corners = self.decode_head.align_corners
        self.train_cfg = train_cfg
        self.test_cfg = dict(mode='whole') if test_cfg is None \
            else dict(test_cfg)
        mode = self.test_cfg.get('mode', 'whole')
        if mode not in ('whole', 'slide'):
            raise ValueError(f"test_cfg.mode must be 'whole' or 'slide', "
                             f'got {mode!r}')
        if mode == 'slide' and not {'crop_size', 'stride'} <= set(
                self.test_cfg):
            raise ValueError("test_cfg with mode='slide' needs crop_size "
                             'and stride')

    def _split_dates(self, inputs: Tensor) -> Tuple[Tensor, Tensor]:
        if inputs.dim() != 4 or inputs.shape[1] % 2:
            raise ValueError(
                'SiamEncoderDecoder wants (N, 2*C, H, W) inputs, date A\'s '
                f'channels then date B\'s; got {tuple(inputs.shape)}')
        return inputs.chunk(2, dim=1)

    def _embed(self, x: Tensor):
        x = self.backbone(x)
        return self.neck(x) if self.with_neck else x

    def extract_feat(self, inputs: Tensor) -> Tuple:
        """Embeddings of date A and date B."""
        img_a, img_b = self._split_dates(inputs)
        return self._embed(img_a), self._embed(img_b)

    def encode_decode(self, inputs: Tensor,
                      batch_img_metas: Optional[List[dict]]) -> Tensor:
        """Change-score map (N, 1, H, W) at the input's size."""
        # mmseg's heads upsample to the metas' pad_shape; here that is the
        # size of the batch given: the padded images, or slide windows.
        size = tuple(inputs.shape[2:])
        metas = [
            dict(meta, pad_shape=size) for meta in batch_img_metas or [{}]
        ]
        return self.decode_head.predict(
            self.extract_feat(inputs), metas, self.test_cfg)

    def loss(self, inputs: Tensor, data_samples: List[SegDataSample]) -> dict:
        return self.decode_head.loss(
            self.extract_feat(inputs), data_samples, self.train_cfg)

    def _forward(self, inputs: Tensor, data_samples=None) -> Tensor:
        """The head's score map at the embeddings' resolution."""
        return self.decode_head(self.extract_feat(inputs))

    def slide_inference(self, inputs: Tensor,
                        batch_img_metas: List[dict]) -> Tensor:
        """Scores averaged over overlapping ``crop_size`` windows.

        Windows go through the network ``windows_per_forward`` at a time (all
        crops have the crop size): one forward of a batch of small windows is
        several times faster than as many forwards of one.
        """
        h_stride, w_stride = self.test_cfg['stride']
        h_crop, w_crop = self.test_cfg['crop_size']
        group = self.test_cfg.get('windows_per_forward', 8)
        batch, _, h_img, w_img = inputs.shape
        h_grids = max(h_img - h_crop + h_stride - 1, 0) // h_stride + 1
        w_grids = max(w_img - w_crop + w_stride - 1, 0) // w_stride + 1
        windows = []
        for h_idx in range(h_grids):
            for w_idx in range(w_grids):
                y2 = min(h_idx * h_stride + h_crop, h_img)
                x2 = min(w_idx * w_stride + w_crop, w_img)
                windows.append((slice(max(y2 - h_crop, 0),
                                      y2), slice(max(x2 - w_crop, 0), x2)))
        scores = inputs.new_zeros((batch, 1, h_img, w_img))
        count = inputs.new_zeros((batch, 1, h_img, w_img))
        for start in range(0, len(windows), group):
            chunk = windows[start:start + group]
            crops = torch.cat([inputs[:, :, ys, xs] for ys, xs in chunk])
            outs = self.encode_decode(crops, batch_img_metas).split(batch)
            for (ys, xs), out in zip(chunk, outs):
                scores[:, :, ys, xs] += out
                count[:, :, ys, xs] += 1
        return scores / count

    def inference(self, inputs: Tensor, batch_img_metas: List[dict]) -> Tensor:
        if self.test_cfg.get('mode', 'whole') == 'slide':
            return self.slide_inference(inputs, batch_img_metas)
        return self.encode_decode(inputs, batch_img_metas)

    def predict(
        self,
        inputs: Tensor,
        data_samples: Optional[List[SegDataSample]] = None
    ) -> List[SegDataSample]:
        if data_samples is None:
            data_samples = unpadded_samples(inputs)
        metas = [s.metainfo for s in data_samples]
        scores = self.inference(inputs, metas)
        return self.postprocess_result(scores, data_samples)

    def postprocess_result(
            self, scores: Tensor,
            data_samples: List[SegDataSample]) -> List[SegDataSample]:
        """Undo padding and flips, resize to the original size, threshold."""
        _, _, h, w = scores.shape
        for i, sample in enumerate(data_samples):
            meta = sample.metainfo
            left, right, top, bottom = meta.get(
                'img_padding_size', meta.get('padding_size', [0] * 4))
            score = scores[i:i + 1, :, top:h - bottom, left:w - right]
            if meta.get('flip', False):
                dims = (3, ) if meta.get('flip_direction',
                                         'horizontal') == 'horizontal' \
                    else (2, )
                score = score.flip(dims=dims)
            ori = tuple(meta.get('ori_shape', score.shape[2:]))[:2]
            if tuple(score.shape[2:]) != ori:
                score = F.interpolate(
                    score,
                    size=ori,
                    mode='bilinear',
                    align_corners=self.align_corners)
            score = score[0]
            sample.set_data({
                'seg_logits':
                PixelData(data=score),
                'pred_sem_seg':
                PixelData(data=(score > self.decode_head.threshold).long())
            })
        return data_samples
