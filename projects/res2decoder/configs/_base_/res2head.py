# Res2Head on all four stages, as UPerHead: two Res2Net blocks of 128
# channels (its bottleneck blocks are lighter than the 3x3 convolutions of
# the other heads; 128 brings its parameters near FCNHead's) whose splits
# together span the 128 channels (scales x width = 128), as Res2Net keeps
# scales x width nearly constant across its variants.
_base_ = ['./r18-w32-d8_scaleseg.py']
model = dict(
    decode_head=dict(
        _delete_=True,
        type='mmzoo.Res2Head',
        in_channels=[32, 64, 128, 256],
        in_index=[0, 1, 2, 3],
        input_transform='multiple_select',
        channels=128,
        num_blocks=2,
        scales=4,
        base_width=64,
        groups=1,
        mixing='chain',
        dropout_ratio=0.1,
        num_classes={{_base_.num_classes}},
        norm_cfg={{_base_.norm_cfg}},
        align_corners=False,
        loss_decode=dict(
            type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)))
