_base_ = ['../res2net/faster-rcnn_res2net50-26w4s_fpn_1x_coco.py']
model = dict(
    # ImageNet weights converted with tools/model_converters/resnext2mmzoo.py
    backbone=dict(
        _delete_=True,
        type='mmzoo.ResNeXt',
        depth=101,
        groups=64,
        base_width=4,
        out_indices=(0, 1, 2, 3),
        frozen_stages=1,
        norm_cfg=dict(type='BN', requires_grad=True),
        norm_eval=True,
        init_cfg=dict(
            type='Pretrained',
            checkpoint='checkpoints/resnext101-64x4d_in1k.pth',
            prefix='backbone.')))
