_base_ = [
    '../_base_/models/cascade-rcnn_resnest50_fpn.py',
    '../_base_/datasets/coco_detection_ms-range.py',
    '../_base_/schedules/schedule_1x.py', '../_base_/default_runtime_det.py'
]
model = dict(
    # ImageNet weights converted with tools/model_converters/resnest2mmzoo.py
    backbone=dict(
        init_cfg=dict(
            type='Pretrained',
            checkpoint='checkpoints/resnest50_in1k.pth',
            prefix='backbone.')))
