"""BSDA-Net's classifier branch: a second encoder fed the decoders' features.

Lin et al., "BSDA-Net: A Boundary Shape and Distance Aware Joint Learning
Framework for Segmenting and Classifying OCTA Images", MICCAI 2021. Follows the
official code (github llmir/MultitaskOCTA, smp_model.py
``MyResNetEncoderMulti``).
"""
from typing import List, Optional, Sequence

import torch
import torch.nn as nn
from mmengine.model import BaseModule
from mmseg.utils import SampleList
from torch import Tensor

from mmzoo.registry import MODELS
from ..utils.resnet_stages import resnet_stages


@MODELS.register_module()
class BSDAClassifier(BaseModule):
    """Classify the image with its own encoder, which at each of its first four
    stages takes in the segmentation decoders' features.

    The encoder (a backbone of its own, not shared with the segmentation
    encoder) runs its five stages (strides 2 to 32) on the image; after
    each of the first four, its output is concatenated with the features
    of every decoder at that stride and reduced back to the stage's width
    by a 1×1 convolution without bias, norm or activation. After the last
    stage come global average pooling and a linear layer. Gradients of the
    classification loss reach the decoders and the shared encoder through
    the fused features, as in the official joint training.

    Args:
        encoder (dict): A ResNet-family backbone config
            (see :func:`mmzoo.models.utils.resnet_stages`), e.g. ResNet-34
            with ``in_channels=1``.
        stage_channels (Sequence[int]): The encoder's five stage widths.
            Default: ResNet-34's (64, 64, 128, 256, 512).
        decoder_channels (Sequence[int]): Each decoder's feature channels
            at strides 2, 4, 8, 16 (:attr:`mmzoo.BSDAHead.fused_channels`).
            Default: the official (32, 64, 128, 256).
        num_decoders (int): Decoders whose features are fused. Default: 3.
        num_classes (int): Diagnosis classes. Default: 3.
        loss_cls (dict): Loss on (logits, labels). Default: cross-entropy.
        init_cfg (dict or list[dict], optional): Default: the official,
            the fusing convolutions Kaiming normal (fan-out); the encoder
            keeps its own initialisation and the linear layer PyTorch's.
    """

    def __init__(self,
                 encoder: dict,
                 stage_channels: Sequence[int] = (64, 64, 128, 256, 512),
                 decoder_channels: Sequence[int] = (32, 64, 128, 256),
                 num_decoders: int = 3,
                 num_classes: int = 3,
                 loss_cls: dict = dict(
                     type='mmseg.CrossEntropyLoss', avg_non_ignore=True),
                 init_cfg: Optional[dict] = None) -> None:
        if len(stage_channels) != 5 or len(decoder_channels) != 4:
            raise ValueError(
                'BSDAClassifier fuses four stages of a five-stage encoder: '
                f'got stage_channels={tuple(stage_channels)}, '
                f'decoder_channels={tuple(decoder_channels)}')
        if init_cfg is None:
            init_cfg = dict(
                type='Kaiming',
                mode='fan_out',
                nonlinearity='relu',
                override=dict(name='fuse'))
        super().__init__(init_cfg=init_cfg)
        self.encoder = MODELS.build(encoder)
        resnet_stages(self.encoder)  # fails early on other backbones
        self.num_classes = num_classes
        self.fuse = nn.ModuleList(
            nn.Conv2d(c + num_decoders * d, c, 1, bias=False)
            for c, d in zip(stage_channels[:4], decoder_channels))
        self.fc = nn.Linear(stage_channels[4], num_classes)
        self.loss_cls = MODELS.build(loss_cls)

    def forward(self, inputs: Tensor,
                decoder_feats: Sequence[Sequence[Tensor]]) -> Tensor:
        """Class logits (N, num_classes).

        Args:
            inputs (Tensor): The images, (N, C, H, W).
            decoder_feats (Sequence[Sequence[Tensor]]): Per decoder, its
                features at strides 2, 4, 8, 16.
        """
        x = inputs
        for i, stage in enumerate(resnet_stages(self.encoder)):
            x = stage(x)
            if i < len(self.fuse):
                x = self.fuse[i](
                    torch.cat([x] + [d[i] for d in decoder_feats], dim=1))
        return self.fc(torch.flatten(x.mean(dim=(2, 3), keepdim=True), 1))

    @staticmethod
    def labels(batch_data_samples: SampleList) -> Tensor:
        """The samples' ``gt_class`` as one (N,) int64 tensor."""
        labels: List[Tensor] = []
        for i, sample in enumerate(batch_data_samples):
            if 'gt_class' not in sample:
                raise KeyError(
                    f'BSDAClassifier needs gt_class in every training '
                    f'sample; sample {i} '
                    f'({sample.metainfo.get("img_path", "?")}) has none')
            labels.append(torch.as_tensor(sample.gt_class).reshape(()))
        return torch.stack(labels).long()

    def loss(self, inputs: Tensor, decoder_feats: Sequence[Sequence[Tensor]],
             batch_data_samples: SampleList) -> dict:
        """``loss_cls`` and ``acc_cls`` (percent of the batch right)."""
        logits = self(inputs, decoder_feats)
        labels = self.labels(batch_data_samples).to(logits.device)
        if labels.min() < 0 or labels.max() >= self.num_classes:
            raise ValueError(f'gt_class {labels.tolist()} outside [0, '
                             f'{self.num_classes}) classes')
        acc = (logits.detach().argmax(1) == labels).float().mean() * 100
        return dict(loss_cls=self.loss_cls(logits, labels), acc_cls=acc)
