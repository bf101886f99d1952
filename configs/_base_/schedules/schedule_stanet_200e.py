# The official STANet schedule (github justchenhao/STANet, options/ and
# README): Adam lr 1e-3, betas (0.5, 0.999), no weight decay; 100 epochs at
# the full rate, then 100 epochs of linear decay. The official rule
# (lr factor 1 - max(0, e + 1 - 100) / 101 in epoch e, counted from 0)
# gives 100/101 in epoch 100 down to 1/101 in epoch 199, which this
# LinearLR reproduces epoch by epoch.
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='Adam', lr=1e-3, betas=(0.5, 0.999)))
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=100 / 101,
        end_factor=0.0,
        begin=100,
        end=200,
        by_epoch=True)
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=200, val_interval=5)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(
        type='CheckpointHook',
        by_epoch=True,
        interval=5,
        save_best='f1',
        rule='greater'),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(_scope_='mmseg', type='SegVisualizationHook'))
