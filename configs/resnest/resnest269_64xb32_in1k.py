# ResNeSt-269: the ResNeSt-50 recipe with its own official crop size (416) for
# training and evaluation.
_base_ = ['./resnest50_32xb64_in1k.py']
crop_size = 416
model = dict(backbone=dict(depth=269))
train_pipeline = [
    dict(step, scale=crop_size) if step.type == 'RandomResizedCrop' else step
    for step in _base_.train_pipeline
]
test_pipeline = [
    dict(step, crop_size=crop_size)
    if step.type == 'EfficientNetCenterCrop' else step
    for step in _base_.test_pipeline
]
train_dataloader = dict(batch_size=32, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(batch_size=32, dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
