# The official T2Net schedule (github chunmeifeng/T2Net, ixi_train_t2net.py
# and ixi_module_t2net.py): RMSprop lr 5e-5, no weight decay, StepLR
# (step 40 epochs, gamma 0.1), 50 epochs, batch 8.
optim_wrapper = dict(
    type='OptimWrapper', optimizer=dict(type='RMSprop', lr=5e-5))
param_scheduler = [dict(type='StepLR', step_size=40, gamma=0.1, by_epoch=True)]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=50, val_interval=5)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
auto_scale_lr = dict(base_batch_size=8)
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(
        type='CheckpointHook',
        by_epoch=True,
        interval=5,
        save_best='sr_psnr',
        rule='greater'),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='mmzoo.ReconstructionVisualizationHook'))
