_base_ = ['./default_runtime.py']
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', interval=1),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(_scope_='mmdet', type='DetVisualizationHook'))
visualizer = dict(
    _scope_='mmdet',
    type='DetLocalVisualizer',
    vis_backends={{_base_.vis_backends}},
    name='visualizer')
log_processor = dict(type='LogProcessor', window_size=50, by_epoch=True)
