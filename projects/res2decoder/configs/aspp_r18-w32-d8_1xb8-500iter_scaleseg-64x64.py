# ASPPHead (DeepLabV3, mmseg's) on the last stage. Rates 1/2/4/6 instead of
# mmseg's 1/12/24/36: the feature map is 8x8, where rate 12 samples padding.
_base_ = ['./_base_/r18-w32-d8_scaleseg.py']
model = dict(
    decode_head=dict(
        _delete_=True,
        type='ASPPHead',
        in_channels=256,
        in_index=3,
        channels=64,
        dilations=(1, 2, 4, 6),
        dropout_ratio=0.1,
        num_classes={{_base_.num_classes}},
        norm_cfg={{_base_.norm_cfg}},
        align_corners=False,
        loss_decode=dict(
            type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)))
