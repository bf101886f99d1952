# The `make demo` model: STANet-PAM trained from scratch on generated
# LEVIR-CD-style pairs (tools/dataset_converters/make_synthetic_levircd.py,
# 256x256), sized to train and test within 10 minutes on 2 CPU cores: 64x64
# crops (rotated 0-15 degrees on a grey-filled expanded canvas, as the
# official training), batch 8, Adam 1e-3 with the official betas, constant
# for half the iterations then linear decay; validated every 100 iterations
# of the decay, keeping the checkpoint of the best val F1 as the official
# training does; evaluated on 64x64 windows of the 256x256 images.
_base_ = [
    '../_base_/models/stanet_r18.py',
    '../_base_/datasets/synthetic_levircd.py',
    '../_base_/default_runtime_seg.py',
    '../_base_/schedules/schedule_stanet_200e.py'
]
crop_size = (64, 64)
max_iters = 1400
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
# Loaded in the training process: on two cores the training step's threads
# use both, and a loader process only takes its time from them (see
# README, "Where the demo's time goes").
train_dataloader = dict(
    batch_size=8,
    num_workers=0,
    persistent_workers=False,
    # An iteration-based loop over a small set: an endless sampler, so the
    # loader does not restart (and stall) every few iterations.
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(num_workers=0, persistent_workers=False)
test_dataloader = dict(num_workers=0, persistent_workers=False)
# The official optimizer (the base schedule's Adam) in torch's fused form:
# one pass over all parameters instead of a Python loop over them, which
# took 11-15% of a training step (see README).
optim_wrapper = dict(optimizer=dict(fused=True))
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
    val_begin=max_iters // 2,
    val_interval=100)
default_hooks = dict(
    logger=dict(interval=50, log_metric_by_epoch=False),
    # The best val F1's checkpoint (best_f1_iter_N.pth) and the last.
    checkpoint=dict(
        by_epoch=False, interval=max_iters, save_best='f1', rule='greater'))
log_processor = dict(by_epoch=False)
randomness = dict(seed=0)
custom_hooks = [
    dict(type='mmzoo.RNGStateHook'),
    dict(type='mmzoo.ChangeVisualizationHook', num_pairs=4)
]
