# The `make demo` model: STANet-PAM trained from scratch on generated
# LEVIR-CD-style pairs (tools/dataset_converters/make_synthetic_levircd.py,
# 256x256), sized to train on 2 CPU cores in a few minutes: 64x64 crops
# (rotated 0-15 degrees as the official training), batch 8, Adam 1e-3 with
# the official betas, constant for half the iterations then linear decay;
# evaluated on 64x64 windows of the 256x256 images. One data worker: on two
# cores, more workers starve the training step.
_base_ = [
    '../_base_/models/stanet_r18.py',
    '../_base_/datasets/synthetic_levircd.py',
    '../_base_/default_runtime_seg.py',
    '../_base_/schedules/schedule_stanet_200e.py'
]
crop_size = (64, 64)
max_iters = 600
# Tested as it trained: on 64x64 windows (stride 32, scores averaged).
# PAM's regions then hold as many pixels as in training; on the whole
# 256x256 image its scale-1 region is 16 times larger (see README).
model = dict(
    data_preprocessor=dict(size=crop_size),
    test_cfg=dict(mode='slide', crop_size=crop_size, stride=(32, 32)))
train_pipeline = [
    dict(type='mmzoo.LoadBitemporalImages'),
    dict(type='mmzoo.LoadChangeLabel'),
    dict(type='mmzoo.BitemporalRandomRotate', prob=1.0, degree=(0, 15)),
    dict(type='mmseg.RandomCrop', crop_size=crop_size),
    dict(type='mmzoo.PackBitemporalInputs')
]
train_dataloader = dict(
    batch_size=8,
    num_workers=1,
    # An iteration-based loop over a small set: an endless sampler, so the
    # loader does not restart (and stall) every few iterations.
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(pipeline=train_pipeline))
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1.0,
        end_factor=0.01,
        begin=max_iters // 2,
        end=max_iters,
        by_epoch=False)
]
train_cfg = dict(
    _delete_=True,
    type='IterBasedTrainLoop',
    max_iters=max_iters,
    val_interval=max_iters)
default_hooks = dict(
    logger=dict(interval=20, log_metric_by_epoch=False),
    checkpoint=dict(by_epoch=False, interval=max_iters, save_best=None))
log_processor = dict(by_epoch=False)
randomness = dict(seed=0)
custom_hooks = [
    dict(type='mmzoo.RNGStateHook'),
    dict(type='mmzoo.ChangeVisualizationHook', num_pairs=4)
]
