"""BSDA-Net: joint FAZ segmentation and diagnosis on OCTA images in mmseg.

Lin et al., "BSDA-Net: A Boundary Shape and Distance Aware Joint Learning
Framework for Segmenting and Classifying OCTA Images", MICCAI 2021. Follows
the official code (github llmir/MultitaskOCTA: train_seg_clf.py
``CotrainingModelMulti`` and ``seg_clf_iteration``).
"""
from typing import List, Optional, Sequence

import torch.nn.functional as F
from mmengine.structures import PixelData
from mmseg.models.segmentors import BaseSegmentor
from mmseg.structures import SegDataSample
from torch import Tensor

from mmzoo.registry import MODELS
from ..utils import resnet_stages, unpadded_samples


@MODELS.register_module()
class BSDANet(BaseSegmentor):
    """A shared encoder, :class:`mmzoo.BSDAHead`'s three decoders (mask,
    boundary heatmap, signed distance) and :class:`mmzoo.BSDAClassifier`.

    The encoder's five stages (strides 2 to 32) feed the head; the
    classifier runs its own encoder on the image and fuses the decoders'
    features. The training loss is the head's (3·Dice + MSE + MSE) plus,
    while :attr:`train_cls` is True, the classifier's cross-entropy;
    :class:`mmzoo.ClsLossWarmupHook` switches it on after the official
    warm-up. During the warm-up the classifier is not run at all (it would
    get no gradient), so distributed training needs
    ``find_unused_parameters=True``.

    ``predict`` fills each :class:`SegDataSample`, at the original image
    size (padding and flips undone), with ``seg_logits`` (the FAZ
    probability, 1×H×W, as mmseg stores sigmoid outputs of one-channel
    heads), ``pred_sem_seg`` (1×H×W int64, FAZ 1), ``pred_heatmap`` and
    ``pred_sdm`` (1×H×W float32), ``pred_class`` (0-dim int64) and
    ``pred_class_score`` (class probabilities), so mmseg's test loop and
    visualiser work.

    Args:
        backbone (dict): The shared encoder: a ResNet-family backbone
            (see :func:`mmzoo.models.utils.resnet_stages`).
        decode_head (dict): :class:`mmzoo.BSDAHead` config.
        cls_head (dict): :class:`mmzoo.BSDAClassifier` config.
        train_cfg (dict, optional): Unused; mmseg's segmentors take it.
        test_cfg (dict, optional): Only ``mode='whole'``: the class comes
            from the whole image.
        data_preprocessor (dict, optional): mmseg's ``SegDataPreProcessor``
            with one-entry ``mean`` and ``std`` for greyscale images.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 backbone: dict,
                 decode_head: dict,
                 cls_head: dict,
                 train_cfg: Optional[dict] = None,
                 test_cfg: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.backbone = MODELS.build(backbone)
        resnet_stages(self.backbone)  # fails early on other backbones
        self.decode_head = MODELS.build(decode_head)
        self.cls_head = MODELS.build(cls_head)
        self.align_corners = self.decode_head.align_corners
        self.train_cfg = train_cfg
        self.test_cfg = dict(mode='whole') if test_cfg is None \
            else dict(test_cfg)
        if self.test_cfg.get('mode', 'whole') != 'whole':
            raise ValueError("BSDANet classifies whole images: test_cfg.mode "
                             f"must be 'whole', got {self.test_cfg['mode']!r}")
        self.train_cls = True

    def extract_feat(self, inputs: Tensor) -> List[Tensor]:
        """The encoder's stages at strides 2, 4, 8, 16 and 32."""
        feats, x = [], inputs
        for stage in resnet_stages(self.backbone):
            x = stage(x)
            feats.append(x)
        return feats

    def encode_decode(self, inputs: Tensor,
                      batch_img_metas: List[dict]) -> Tensor:
        """FAZ mask logits (N, 1, H, W) at the input's size."""
        outs = self.decode_head(self.extract_feat(inputs))
        return self.decode_head.predict_by_feat(
            outs, self._metas(inputs, batch_img_metas))['mask']

    @staticmethod
    def _metas(inputs: Tensor, batch_img_metas) -> List[dict]:
        # The head resizes to pad_shape: here the batch's size.
        size = tuple(inputs.shape[2:])
        return [dict(meta, pad_shape=size) for meta in batch_img_metas or [{}]]

    def loss(self, inputs: Tensor, data_samples: List[SegDataSample]) -> dict:
        outs = self.decode_head(self.extract_feat(inputs))
        losses = self.decode_head.loss_by_feat(outs, data_samples)
        if self.train_cls:
            losses.update(
                self.cls_head.loss(inputs, outs['decoder_feats'],
                                   data_samples))
        return losses

    def _forward(self, inputs: Tensor, data_samples=None) -> tuple:
        """Mask logits, heatmap, SDM and class logits, unresized."""
        outs = self.decode_head(self.extract_feat(inputs))
        return (outs['mask'], outs['heatmap'], outs['sdm'],
                self.cls_head(inputs, outs['decoder_feats']))

    def predict(
        self,
        inputs: Tensor,
        data_samples: Optional[List[SegDataSample]] = None
    ) -> List[SegDataSample]:
        if data_samples is None:
            data_samples = unpadded_samples(inputs)
        outs = self.decode_head(self.extract_feat(inputs))
        maps = self.decode_head.predict_by_feat(
            outs, self._metas(inputs, [s.metainfo for s in data_samples]))
        scores = self.cls_head(inputs, outs['decoder_feats']).softmax(dim=1)
        return self.postprocess_result(maps, scores, data_samples)

    def _restore(self, x: Tensor, meta: dict) -> Tensor:
        """One sample's (1, 1, h, w) map without padding and flip, at the
        original size."""
        h, w = x.shape[2:]
        left, right, top, bottom = meta.get('img_padding_size',
                                            meta.get('padding_size', [0] * 4))
        x = x[..., top:h - bottom, left:w - right]
        if meta.get('flip', False):
            horizontal = meta.get('flip_direction',
                                  'horizontal') == 'horizontal'
            x = x.flip(dims=(3, ) if horizontal else (2, ))
        ori = tuple(meta.get('ori_shape', x.shape[2:]))[:2]
        if tuple(x.shape[2:]) != ori:
            x = F.interpolate(
                x, size=ori, mode='bilinear', align_corners=self.align_corners)
        return x[0]

    def postprocess_result(
            self, maps: dict, class_scores: Tensor,
            data_samples: Sequence[SegDataSample]) -> List[SegDataSample]:
        """Fill the samples with the predictions at the original size."""
        for i, sample in enumerate(data_samples):
            meta = sample.metainfo
            prob = self._restore(maps['mask'][i:i + 1], meta).sigmoid()
            sample.set_data({
                'seg_logits':
                PixelData(data=prob),
                'pred_sem_seg':
                PixelData(data=(prob > self.decode_head.threshold).long()),
                'pred_heatmap':
                PixelData(data=self._restore(maps['heatmap'][i:i + 1], meta)),
                'pred_sdm':
                PixelData(data=self._restore(maps['sdm'][i:i + 1], meta)),
                'pred_class':
                class_scores[i].argmax(),
                'pred_class_score':
                class_scores[i].float()
            })
        return list(data_samples)
