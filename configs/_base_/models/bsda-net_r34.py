# BSDA-Net (Lin et al., MICCAI 2021; github llmir/MultitaskOCTA): a ResNet-34
# encoder on the single grey channel, three UNet decoders (256, 128, 64, 32,
# 16 channels) for the FAZ mask, the boundary heatmap and the signed distance
# map, and a classifier with its own ResNet-34 encoder that fuses the
# decoders' features at strides 2, 4, 8 and 16. Loss: 3 * Dice (over the
# batch) + MSE(heatmap) + MSE(SDM), plus cross-entropy once
# mmzoo.ClsLossWarmupHook switches it on.
norm_cfg = dict(type='BN', requires_grad=True)
encoder = dict(
    type='mmzoo.ResNet',
    depth=34,
    in_channels=1,
    out_indices=(0, 1, 2, 3),
    norm_cfg=norm_cfg)
num_diagnoses = 3
# [0, 255] to [-1, 1]. The official code normalises with the training set's
# mean and standard deviation; the batch norm after the first convolution
# cancels either affine map in training. No padding: the decoders take any
# size (size_divisor=1 only answers mmseg's batching, which wants one).
data_preprocessor = dict(
    type='mmseg.SegDataPreProcessor',
    mean=[127.5],
    std=[127.5],
    bgr_to_rgb=False,
    pad_val=0,
    seg_pad_val=255,
    size_divisor=1)
model = dict(
    type='mmzoo.BSDANet',
    data_preprocessor=data_preprocessor,
    backbone=encoder,
    decode_head=dict(
        type='mmzoo.BSDAHead',
        in_channels=(64, 64, 128, 256, 512),
        decoder_channels=(256, 128, 64, 32, 16),
        threshold=0.5,
        norm_cfg=norm_cfg,
        loss_decode=dict(type='mmzoo.BatchDiceLoss', loss_weight=3.0),
        loss_heatmap=dict(type='mmdet.MSELoss', loss_weight=1.0),
        loss_sdm=dict(type='mmdet.MSELoss', loss_weight=1.0),
        ignore_index=255),
    cls_head=dict(
        type='mmzoo.BSDAClassifier',
        encoder=encoder,
        stage_channels=(64, 64, 128, 256, 512),
        decoder_channels=(32, 64, 128, 256),
        num_classes=num_diagnoses,
        loss_cls=dict(type='mmseg.CrossEntropyLoss', avg_non_ignore=True)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
