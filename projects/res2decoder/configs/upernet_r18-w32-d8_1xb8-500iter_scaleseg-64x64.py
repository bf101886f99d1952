# UPerHead (UPerNet, mmseg's) on all four stages.
_base_ = ['./_base_/r18-w32-d8_scaleseg.py']
model = dict(
    decode_head=dict(
        _delete_=True,
        type='UPerHead',
        in_channels=[32, 64, 128, 256],
        in_index=[0, 1, 2, 3],
        pool_scales=(1, 2, 3, 6),
        channels=64,
        dropout_ratio=0.1,
        num_classes={{_base_.num_classes}},
        norm_cfg={{_base_.norm_cfg}},
        align_corners=False,
        loss_decode=dict(
            type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)))
