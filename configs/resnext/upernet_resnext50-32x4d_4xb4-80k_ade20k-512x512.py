_base_ = ['../res2net/upernet_res2net50-26w4s_4xb4-80k_ade20k-512x512.py']
model = dict(
    # ImageNet weights converted with tools/model_converters/resnext2mmzoo.py
    backbone=dict(
        _delete_=True,
        type='mmzoo.ResNeXt',
        depth=50,
        groups=32,
        base_width=4,
        out_indices=(0, 1, 2, 3),
        norm_cfg={{_base_.norm_cfg}},
        init_cfg=dict(
            type='Pretrained',
            checkpoint='checkpoints/resnext50-32x4d_in1k.pth',
            prefix='backbone.')))
