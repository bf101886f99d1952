# UperNet + Swin-T on ADE20K, 512² crops, 160k iterations at a total batch
# of 16, as the official segmentation repository trains it
# (github SwinTransformer/Swin-Transformer-Semantic-Segmentation,
# configs/swin/upernet_swin_tiny_patch4_window7_512x512_160k_ade20k.py;
# 8 GPUs x 2 images there, 4 x 4 here): AdamW lr 6e-5, betas (0.9, 0.999),
# weight decay 0.01 (none on norms and relative position tables), linear
# warm-up over 1500 iterations from 1e-6 of the lr, then poly decay
# (power 1.0) to 0; drop path 0.3; ImageNet-1k Swin-T weights.
_base_ = [
    '../_base_/models/upernet_swin-t.py', '../_base_/datasets/ade20k.py',
    '../_base_/default_runtime_seg.py', '../_base_/schedules/schedule_80k.py'
]
crop_size = (512, 512)
data_preprocessor = dict(size=crop_size)
model = dict(
    data_preprocessor=data_preprocessor,
    # Official weights converted with tools/model_converters/swin2mmzoo.py
    backbone=dict(
        init_cfg=dict(
            type='Pretrained',
            checkpoint='checkpoints/swin-tiny_in1k.pth',
            prefix='backbone.')))
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(
        type='AdamW', lr=6e-5, betas=(0.9, 0.999), weight_decay=0.01),
    paramwise_cfg=dict(
        custom_keys={
            'relative_position_bias_table': dict(decay_mult=0.),
            'norm': dict(decay_mult=0.)
        }))
param_scheduler = [
    dict(
        type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0, end=1500),
    dict(
        type='PolyLR',
        eta_min=0.0,
        power=1.0,
        begin=1500,
        end=160000,
        by_epoch=False)
]
train_cfg = dict(max_iters=160000, val_interval=16000)
default_hooks = dict(checkpoint=dict(interval=16000))
train_dataloader = dict(batch_size=4)
