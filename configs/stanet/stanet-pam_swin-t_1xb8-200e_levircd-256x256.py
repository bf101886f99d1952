# STANet-PAM with a Swin-T backbone in place of ResNet-18: its four stages
# (1/4 to 1/32, 96 to 768 channels) feed the same neck. Everything else as
# stanet-pam_r18, except the optimiser: AdamW with weight decay 0.01 (none on
# norms and position tables) as in Swin's segmentation recipe, at lr 1e-4.
# This recipe is our choice, not a published one, and untested on LEVIR-CD.
_base_ = './stanet-pam_r18_1xb8-200e_levircd-256x256.py'
model = dict(
    backbone=dict(
        _delete_=True,
        type='mmzoo.SwinTransformer',
        arch='tiny',
        window_size=7,
        drop_path_rate=0.2,
        out_indices=(0, 1, 2, 3),
        # Converted with tools/model_converters/swin2mmzoo.py
        init_cfg=dict(
            type='Pretrained',
            checkpoint='checkpoints/swin-tiny_in1k.pth',
            prefix='backbone.')),
    neck=dict(in_channels=(96, 192, 384, 768)))
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(
        type='AdamW', lr=1e-4, betas=(0.9, 0.999), weight_decay=0.01),
    paramwise_cfg=dict(
        custom_keys={
            'relative_position_bias_table': dict(decay_mult=0.),
            'norm': dict(decay_mult=0.)
        }))
