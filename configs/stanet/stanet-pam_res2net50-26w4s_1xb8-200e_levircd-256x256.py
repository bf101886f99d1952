# STANet-PAM with a Res2Net-50 (26w4s) backbone in place of ResNet-18; the
# neck reduces Res2Net's four stages to 96 channels each as it does
# ResNet-18's. Everything else as stanet-pam_r18.
_base_ = './stanet-pam_r18_1xb8-200e_levircd-256x256.py'
model = dict(
    backbone=dict(
        _delete_=True,
        type='mmzoo.Res2Net',
        depth=50,
        scales=4,
        base_width=26,
        out_indices=(0, 1, 2, 3),
        norm_cfg={{_base_.norm_cfg}},
        # Converted with tools/model_converters/res2net2mmzoo.py
        init_cfg=dict(
            type='Pretrained',
            checkpoint='checkpoints/res2net50-26w4s_in1k.pth',
            prefix='backbone.')),
    neck=dict(in_channels=(256, 512, 1024, 2048)))
