# STANet's neck with its 3x3 fusion replaced by a 1x1 convolution to 256
# and one Res2Net block of 4 splits of 26 channels (Res2Net-50's 26w4s).
_base_ = ['./_base_/stanet-base_synthlevircd.py']
model = dict(
    neck=dict(
        _delete_=True,
        type='mmzoo.Res2STANetFPN',
        in_channels=(64, 128, 256, 512),
        mid_channels=96,
        hidden_channels=256,
        out_channels=64,
        dropout_ratio=0.5,
        num_blocks=1,
        scales=4,
        base_width=26,
        mixing='chain',
        norm_cfg={{_base_.norm_cfg}}))
