# UperNet with a Res2Net-50 backbone trained from scratch on the ADE20K-layout
# scenes of tools/dataset_converters/make_synthetic_ade20k.py, sized to train
# on 2 CPU cores in a few minutes.
_base_ = [
    '../_base_/models/upernet_res2net50.py',
    '../_base_/datasets/synthetic_ade20k.py',
    '../_base_/default_runtime_seg.py', '../_base_/schedules/schedule_80k.py'
]
crop_size = (96, 96)
model = dict(
    data_preprocessor=dict(size=crop_size),
    decode_head=dict(channels=128, num_classes=5),
    auxiliary_head=dict(channels=64, num_classes=5))
optim_wrapper = dict(optimizer=dict(lr=0.02))
param_scheduler = [
    dict(
        type='PolyLR',
        eta_min=1e-4,
        power=0.9,
        begin=0,
        end=500,
        by_epoch=False)
]
train_cfg = dict(max_iters=500, val_interval=500)
default_hooks = dict(logger=dict(interval=10), checkpoint=dict(interval=500))
randomness = dict(seed=0)
