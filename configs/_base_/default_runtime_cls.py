_base_ = ['./default_runtime.py']
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=100),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', interval=1),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(
        _scope_='mmpretrain', type='VisualizationHook', enable=False))
visualizer = dict(
    _scope_='mmpretrain',
    type='UniversalVisualizer',
    vis_backends={{_base_.vis_backends}})
