_base_ = ['./resnest50_32xb64_in1k.py']
model = dict(backbone=dict(depth=101))
# The official crop size of ResNeSt-101, for training and evaluation.
crop_size = 256
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
