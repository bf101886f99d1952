# STANet base (no attention) on LEVIR-CD's 256x256 patches, trained as the
# official code: batch 8, rotation 0-15 degrees, Adam 1e-3, 100 + 100 epochs.
_base_ = [
    '../_base_/models/stanet_r18.py', '../_base_/datasets/levircd.py',
    '../_base_/default_runtime_seg.py',
    '../_base_/schedules/schedule_stanet_200e.py'
]
model = dict(
    # ImageNet ResNet-18 as the official code: torchvision's weights
    # converted by tools/model_converters/resnet2mmzoo.py. The third block
    # of the last stage has no ImageNet counterpart and starts random, as
    # in the official code.
    backbone=dict(
        init_cfg=dict(
            type='Pretrained',
            checkpoint='checkpoints/resnet18_in1k.pth',
            prefix='backbone.')),
    decode_head=dict(attention='none'))
log_processor = dict(by_epoch=True)
# A | B | label | prediction | distance | overlay panels of the first val
# pairs at every validation (work_dir/<timestamp>/vis_data/vis_image).
custom_hooks = [
    dict(type='mmzoo.RNGStateHook'),
    dict(type='mmzoo.ChangeVisualizationHook', num_pairs=4)
]
