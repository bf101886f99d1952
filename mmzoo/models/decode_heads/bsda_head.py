"""BSDA-Net's three decoders: FAZ mask, boundary heatmap, signed distance.

Lin et al., "BSDA-Net: A Boundary Shape and Distance Aware Joint Learning
Framework for Segmenting and Classifying OCTA Images", MICCAI 2021. Follows the
official code (github llmir/MultitaskOCTA: smp_model.py ``MyMultibranchModel``
and ``MyUnetDecoder``, losses.py ``My_multiLoss``).
"""
from typing import Dict, List, Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.utils import SampleList
from torch import Tensor

from mmzoo.registry import MODELS


class UNetDecoderBlock(nn.Module):
    """Upsample, concatenate the encoder's skip feature, two 3×3 conv-BN-ReLU.

    The official block (segmentation_models_pytorch's ``DecoderBlock``)
    upsamples ×2 by nearest neighbour, which needs input sides divisible
    by 32; this one upsamples (nearest) to the skip feature's size, the same
    for such inputs, and so takes any size (OCTA-500's 400 and 304 pixels
    are not multiples of 32). Without a skip it upsamples ×2.

    Args:
        in_channels (int): Channels of the coarser input.
        skip_channels (int): Channels of the skip feature (0: none).
        out_channels (int): Output channels.
        conv_cfg, norm_cfg, act_cfg (dict): Of the two convolutions.
    """

    def __init__(self, in_channels: int, skip_channels: int, out_channels: int,
                 conv_cfg: Optional[dict], norm_cfg: Optional[dict],
                 act_cfg: dict) -> None:
        super().__init__()
        kwargs = dict(
            padding=1, conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.conv1 = ConvModule(in_channels + skip_channels, out_channels, 3,
                                **kwargs)
        self.conv2 = ConvModule(out_channels, out_channels, 3, **kwargs)

    def forward(self, x: Tensor, skip: Optional[Tensor] = None) -> Tensor:
        if skip is None:
            x = F.interpolate(x, scale_factor=2, mode='nearest')
        else:
            x = F.interpolate(x, size=skip.shape[2:], mode='nearest')
            x = torch.cat([x, skip], dim=1)
        return self.conv2(self.conv1(x))


class UNetDecoder(BaseModule):
    """A UNet decoder over the five encoder stages (strides 2 to 32).

    Block ``i`` upsamples the previous output and joins the skip feature of
    stride ``16 / 2**i``; the last block, at stride 1, has no skip.

    Args:
        encoder_channels (Sequence[int]): Channels of the encoder stages,
            strides 2, 4, 8, 16, 32.
        decoder_channels (Sequence[int]): Output channels of the blocks,
            coarsest first (strides 16, 8, 4, 2, 1).
        conv_cfg, norm_cfg, act_cfg (dict): Of the blocks' convolutions.
    """

    def __init__(self, encoder_channels: Sequence[int],
                 decoder_channels: Sequence[int], conv_cfg: Optional[dict],
                 norm_cfg: Optional[dict], act_cfg: dict) -> None:
        super().__init__()
        skips = list(encoder_channels[-2::-1]) + [0]
        ins = [encoder_channels[-1]] + list(decoder_channels[:-1])
        self.blocks = nn.ModuleList(
            UNetDecoderBlock(cin, skip, cout, conv_cfg, norm_cfg, act_cfg)
            for cin, skip, cout in zip(ins, skips, decoder_channels))

    def forward(self, feats: Sequence[Tensor]) -> List[Tensor]:
        """Every block's output, coarsest first; the last is at stride 1."""
        skips = list(feats[-2::-1]) + [None]
        x, outs = feats[-1], []
        for block, skip in zip(self.blocks, skips):
            x = block(x, skip)
            outs.append(x)
        return outs


@MODELS.register_module()
class BSDAHead(BaseDecodeHead):
    """BSDA-Net's multi-branch decode head.

    Three UNet decoders share the encoder's five stages: one for the FAZ
    mask, one for the boundary heatmap, one for the signed distance map
    (SDM). As in the official code, the mask is predicted from the mask
    and boundary decoders together: their last features are concatenated
    and fused by a 3×3 convolution (with bias, no norm) before the mask's
    3×3 classifier (``conv_seg``); the heatmap and SDM each come from a
    3×3 convolution on their own decoder's last feature, unbounded.

    **Interface.** An mmseg decode head whose ``inputs`` are the encoder's
    five stages (strides 2, 4, 8, 16 and 32, e.g. from
    :func:`mmzoo.models.utils.resnet_stages`):

    - :meth:`forward` returns a dict: ``mask`` (N, 1, H, W) logits (the
      official model applies the sigmoid inside; here the loss and
      :class:`mmzoo.BSDANet` do), ``heatmap`` and ``sdm`` (N, 1, H, W), and
      ``decoder_feats``: for each decoder (mask, boundary, distance) its
      block outputs at strides 2, 4, 8 and 16, which the classifier branch
      (:class:`mmzoo.BSDAClassifier`) fuses.
    - :meth:`loss_by_feat` compares them with each sample's ``gt_sem_seg``
      (FAZ 1, background 0, ``ignore_index`` left out), ``gt_heatmap`` and
      ``gt_sdm``, and returns ``loss_mask``, ``loss_heatmap`` and
      ``loss_sdm``. Maps smaller than the padded labels (mmseg's
      preprocessor pads only ``gt_sem_seg``) are padded at the bottom and
      right, where the labels are ``ignore_index``.
    - :meth:`predict_by_feat` returns ``mask``, ``heatmap`` and ``sdm``
      resized to the metas' ``pad_shape`` (else ``img_shape``).
    - A pixel is FAZ where the mask's sigmoid exceeds ``threshold``.

    Args:
        in_channels (Sequence[int]): Channels of the encoder's five stages.
            Default: ResNet-34's (64, 64, 128, 256, 512).
        decoder_channels (Sequence[int]): Each decoder's block channels,
            coarsest first. Default: the official (256, 128, 64, 32, 16).
        threshold (float): Probability above which a pixel is FAZ.
            Default: 0.5, the official rounding.
        conv_cfg (dict, optional): Convolution config of the decoders.
        norm_cfg (dict): Norm of the decoders. Default: BN.
        act_cfg (dict): Activation of the decoders. Default: ReLU.
        loss_decode (dict): The mask loss, called with (logits, target,
            weight). Default: :class:`mmzoo.BatchDiceLoss` with weight 3,
            the official ``3 * DiceLoss``.
        loss_heatmap (dict): The heatmap loss, called with (pred, target,
            weight, avg_factor). Default: mean squared error.
        loss_sdm (dict): The SDM loss, called alike. Default: mean squared
            error.
        ignore_index (int): Label of pixels left out of every loss.
            Default: 255.
        align_corners (bool): Of the bilinear resizing of predictions.
            Default: False.
        init_cfg (dict or list[dict], optional): Default: the official
            ``initialize_head`` of the three output convolutions, Xavier
            uniform with zero bias; the decoders' convolutions keep mmcv's
            ConvModule initialisation (Kaiming normal, fan-out).
    """

    def __init__(self,
                 in_channels: Sequence[int] = (64, 64, 128, 256, 512),
                 decoder_channels: Sequence[int] = (256, 128, 64, 32, 16),
                 threshold: float = 0.5,
                 conv_cfg: Optional[dict] = None,
                 norm_cfg: dict = dict(type='BN', requires_grad=True),
                 act_cfg: dict = dict(type='ReLU'),
                 loss_decode: dict = dict(
                     type='mmzoo.BatchDiceLoss', loss_weight=3.0),
                 loss_heatmap: dict = dict(type='mmdet.MSELoss'),
                 loss_sdm: dict = dict(type='mmdet.MSELoss'),
                 ignore_index: int = 255,
                 align_corners: bool = False,
                 init_cfg=None) -> None:
        if len(in_channels) != 5 or len(decoder_channels) != 5:
            raise ValueError(
                'BSDAHead takes five encoder stages (strides 2 to 32) and '
                f'five decoder blocks; got in_channels={tuple(in_channels)}, '
                f'decoder_channels={tuple(decoder_channels)}')
        if init_cfg is None:
            init_cfg = dict(
                type='Xavier',
                distribution='uniform',
                bias=0,
                override=[
                    dict(name='conv_seg'),
                    dict(name='conv_heatmap'),
                    dict(name='conv_sdm')
                ])
        super().__init__(
            list(in_channels),
            decoder_channels[-1],
            num_classes=2,
            out_channels=1,
            threshold=threshold,
            dropout_ratio=0,
            conv_cfg=conv_cfg,
            norm_cfg=norm_cfg,
            act_cfg=act_cfg,
            in_index=list(range(5)),
            input_transform='multiple_select',
            loss_decode=loss_decode,
            ignore_index=ignore_index,
            align_corners=align_corners,
            init_cfg=init_cfg)
        self.decoder_channels = tuple(decoder_channels)
        self.mask_decoder, self.boundary_decoder, self.distance_decoder = (
            UNetDecoder(in_channels, decoder_channels, conv_cfg, norm_cfg,
                        act_cfg) for _ in range(3))
        last = decoder_channels[-1]
        self.fuse = nn.Conv2d(2 * last, last, 3, padding=1)
        # The official mask classifier is a 3×3 convolution, not mmseg's 1×1.
        self.conv_seg = nn.Conv2d(last, 1, 3, padding=1)
        self.conv_heatmap = nn.Conv2d(last, 1, 3, padding=1)
        self.conv_sdm = nn.Conv2d(last, 1, 3, padding=1)
        self.loss_heatmap = MODELS.build(loss_heatmap)
        self.loss_sdm = MODELS.build(loss_sdm)

    @property
    def fused_channels(self) -> tuple:
        """Channels of each decoder's features at strides 2, 4, 8, 16."""
        return self.decoder_channels[-2::-1]

    def forward(self, inputs: Sequence[Tensor]) -> Dict[str, object]:
        feats = self._transform_inputs(inputs)
        outs = [
            decoder(feats)
            for decoder in (self.mask_decoder, self.boundary_decoder,
                            self.distance_decoder)
        ]
        mask_last, boundary_last, distance_last = (o[-1] for o in outs)
        mask = self.cls_seg(
            self.fuse(torch.cat([mask_last, boundary_last], dim=1)))
        return dict(
            mask=mask,
            heatmap=self.conv_heatmap(boundary_last),
            sdm=self.conv_sdm(distance_last),
            # Strides 2, 4, 8, 16: the blocks before the last, finest first.
            decoder_feats=[o[-2::-1] for o in outs])

    def _resize(self, x: Tensor, size: Sequence[int]) -> Tensor:
        if tuple(x.shape[2:]) == tuple(size):
            return x
        return F.interpolate(
            x,
            size=tuple(size),
            mode='bilinear',
            align_corners=self.align_corners)

    def predict_by_feat(self, seg_logits: Dict[str, Tensor],
                        batch_img_metas: List[dict]) -> Dict[str, Tensor]:
        """The three maps at the network input's size."""
        meta = batch_img_metas[0]
        size = meta['pad_shape'] if 'pad_shape' in meta else meta['img_shape']
        return {
            key: self._resize(seg_logits[key], size[:2])
            for key in ('mask', 'heatmap', 'sdm')
        }

    @staticmethod
    def _stack_map(batch_data_samples: SampleList, key: str,
                   size: Sequence[int]) -> Tensor:
        maps = []
        for i, sample in enumerate(batch_data_samples):
            if key not in sample:
                raise KeyError(
                    f'BSDAHead needs {key} in every training sample; sample '
                    f'{i} ({sample.metainfo.get("img_path", "?")}) has none')
            data = sample.get(key).data
            h, w = data.shape[-2:]
            if h > size[0] or w > size[1]:
                raise ValueError(
                    f'{key} of sample {i} is {h}x{w}, larger than its '
                    f'gt_sem_seg {size[0]}x{size[1]}')
            maps.append(F.pad(data, (0, size[1] - w, 0, size[0] - h)))
        return torch.stack(maps).float()

    def loss_by_feat(self, seg_logits: Dict[str, Tensor],
                     batch_data_samples: SampleList) -> dict:
        """``loss_mask``, ``loss_heatmap`` and ``loss_sdm`` at the labels'
        size."""
        label = self._stack_batch_gt(batch_data_samples)
        size = label.shape[2:]
        device = seg_logits['mask'].device
        label = label.to(device)
        heatmap = self._stack_map(batch_data_samples, 'gt_heatmap',
                                  size).to(device)
        sdm = self._stack_map(batch_data_samples, 'gt_sdm', size).to(device)
        valid = (label != self.ignore_index).float()
        mask = self._resize(seg_logits['mask'], size)
        avg = valid.sum().clamp(min=1)
        return dict(
            loss_mask=self.loss_decode(
                mask, (label == 1).float(), weight=valid),
            loss_heatmap=self.loss_heatmap(
                self._resize(seg_logits['heatmap'], size),
                heatmap,
                weight=valid,
                avg_factor=avg),
            loss_sdm=self.loss_sdm(
                self._resize(seg_logits['sdm'], size),
                sdm,
                weight=valid,
                avg_factor=avg))
