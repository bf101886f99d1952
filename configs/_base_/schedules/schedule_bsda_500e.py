# The official BSDA-Net training (github llmir/MultitaskOCTA,
# train_seg_clf.py and utils.py defaults): Adam at 1e-4 for both the
# segmentation and the classification parameters, no weight decay, no
# schedule, batch 64, 500 epochs; cross-entropy from the 61st epoch on
# (--startpoint 60). The official run keeps the checkpoints of the best
# validation Dice and accuracy; here the best Dice is kept.
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='Adam', lr=1e-4, betas=(0.9, 0.999), weight_decay=0))
param_scheduler = []
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=500, val_interval=10)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
# The classifier is not run during the warm-up, so its parameters get no
# gradient there: DDP must be told.
model_wrapper_cfg = dict(
    type='MMDistributedDataParallel', find_unused_parameters=True)
auto_scale_lr = dict(enable=False, base_batch_size=64)
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=10),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(
        type='CheckpointHook',
        by_epoch=True,
        interval=50,
        max_keep_ckpts=2,
        save_best='Dice',
        rule='greater'),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(_scope_='mmseg', type='SegVisualizationHook'))
