# STANet (Chen and Shi, Remote Sensing 2020; github justchenhao/STANet):
# a Siamese ResNet-18 whose last stage holds three blocks dilated 1, 2, 4
# (output stride 32, as the official backbone.define_F builds it), the
# official feature extractor (4 x 96 -> 256 -> 64 channels at 1/4 scale),
# the spatial-temporal attention and BCL on the feature distance.
norm_cfg = dict(type='BN', requires_grad=True)
# Both dates in one 6-channel input (A's RGB, then B's); the official
# normalisation maps [0, 255] to [-1, 1].
data_preprocessor = dict(
    type='mmseg.SegDataPreProcessor',
    mean=[127.5] * 6,
    std=[127.5] * 6,
    bgr_to_rgb=False,
    pad_val=0,
    seg_pad_val=255,
    size=(256, 256))
model = dict(
    type='mmzoo.SiamEncoderDecoder',
    data_preprocessor=data_preprocessor,
    backbone=dict(
        type='mmzoo.ResNet',
        depth=18,
        multi_grid=(1, 2, 4),
        strides=(1, 2, 2, 2),
        dilations=(1, 1, 1, 1),
        out_indices=(0, 1, 2, 3),
        norm_cfg=norm_cfg),
    neck=dict(
        type='mmzoo.STANetFPN',
        in_channels=(64, 128, 256, 512),
        mid_channels=96,
        hidden_channels=256,
        out_channels=64,
        dropout_ratio=0.5,
        norm_cfg=norm_cfg),
    decode_head=dict(
        type='mmzoo.STAHead',
        in_channels=64,
        attention='pam',
        pam_scales=(1, 2, 4, 8),
        ds=1,
        threshold=1.0,
        align_corners=True,
        norm_cfg=norm_cfg,
        loss_decode=dict(type='mmzoo.BCLLoss', margin=2.0),
        # The data preprocessor's seg_pad_val: padding counts in neither
        # the loss nor acc_change.
        ignore_index=255),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
