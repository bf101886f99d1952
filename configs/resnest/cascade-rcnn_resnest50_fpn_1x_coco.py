_base_ = [
    '../_base_/models/cascade-rcnn_resnest50_fpn.py',
    '../_base_/datasets/coco_detection.py',
    '../_base_/schedules/schedule_1x.py', '../_base_/default_runtime_det.py'
]
model = dict(
    # ImageNet weights converted with tools/model_converters/resnest2mmzoo.py
    backbone=dict(
        init_cfg=dict(
            type='Pretrained',
            checkpoint='checkpoints/resnest50_in1k.pth',
            prefix='backbone.')))
# mmdet's ResNeSt configs train on a random short side in [640, 800]
# ("ms-range"); testing stays at 1333x800.
train_pipeline = [
    dict(type='LoadImageFromFile', backend_args={{_base_.backend_args}}),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(
        type='RandomResize', scale=[(1333, 640), (1333, 800)],
        keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
