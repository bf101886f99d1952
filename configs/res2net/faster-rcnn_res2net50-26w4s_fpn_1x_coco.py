_base_ = [
    '../_base_/models/faster-rcnn_res2net50_fpn.py',
    '../_base_/datasets/coco_detection.py',
    '../_base_/schedules/schedule_1x.py', '../_base_/default_runtime_det.py'
]
model = dict(
    # ImageNet weights converted with tools/model_converters/res2net2mmzoo.py
    backbone=dict(
        init_cfg=dict(
            type='Pretrained',
            checkpoint='checkpoints/res2net50-26w4s_in1k.pth',
            prefix='backbone.')))
