_base_ = [
    '../_base_/models/deeplabv3_resnest50-d8.py',
    '../_base_/datasets/ade20k.py', '../_base_/default_runtime_seg.py',
    '../_base_/schedules/schedule_80k.py'
]
crop_size = (512, 512)
data_preprocessor = dict(size=crop_size)
model = dict(
    data_preprocessor=data_preprocessor,
    # ImageNet weights converted with tools/model_converters/resnest2mmzoo.py
    backbone=dict(
        init_cfg=dict(
            type='Pretrained',
            checkpoint='checkpoints/resnest50_in1k.pth',
            prefix='backbone.')),
    decode_head=dict(num_classes=150),
    auxiliary_head=dict(num_classes=150))
