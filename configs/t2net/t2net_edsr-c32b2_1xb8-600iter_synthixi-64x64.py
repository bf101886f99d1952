# The `make demo-t2net` model: a narrow T2Net (32 features, 2 residual
# blocks with their task transformers) trained from scratch on the phantoms
# of tools/dataset_converters/make_synthetic_mri.py (64x64 slices, x2 from
# the official 6X mask's statistics), sized to train on 2 CPU cores in
# minutes. The official RMSprop at 5e-5 needs tens of thousands of
# iterations; Adam at 2e-3 (EDSR's optimiser, at a rate for a small
# model trained briefly) with a step decay at 80% of the iterations, as the
# official schedule decays at epoch 40 of 50.
_base_ = [
    '../_base_/models/t2net_edsr.py', '../_base_/datasets/synthetic_ixi.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_t2net_50e.py'
]
max_iters = 600
model = dict(channels=32, num_blocks=2)
train_dataloader = dict(
    num_workers=1,
    # An iteration-based loop over a small set: an endless sampler, so the
    # loader does not restart every few iterations.
    sampler=dict(type='InfiniteSampler', shuffle=True))
val_dataloader = dict(num_workers=1)
test_dataloader = dict(num_workers=1)
optim_wrapper = dict(optimizer=dict(_delete_=True, type='Adam', lr=2e-3))
param_scheduler = [
    dict(
        type='MultiStepLR',
        milestones=[int(0.8 * max_iters)],
        gamma=0.1,
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
