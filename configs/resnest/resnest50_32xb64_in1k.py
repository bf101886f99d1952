_base_ = [
    '../_base_/models/resnest50.py', '../_base_/datasets/imagenet_bs32.py',
    '../_base_/schedules/imagenet_bs256.py', '../_base_/default_runtime_cls.py'
]
# Each official model is trained and evaluated at its own crop size (224 for
# ResNeSt-50). The official evaluation (scripts/torch/verify.py, ECenterCrop)
# takes a centre crop of crop / (crop + 32) of the short side and resizes it
# bicubically to crop x crop, which is mmpretrain's EfficientNetCenterCrop.
crop_size = 224
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=crop_size),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='EfficientNetCenterCrop',
        crop_size=crop_size,
        crop_padding=32,
        interpolation='bicubic',
        backend='pillow'),
    dict(type='PackInputs'),
]
train_dataloader = dict(batch_size=64, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(batch_size=64, dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
