# What every mmzoo config shares.
#
# The scope rule of our configs: `default_scope` is 'mmzoo'; every top-level
# dict of an upstream type (model, dataset, evaluator, hook, visualizer)
# carries `_scope_` naming its toolbox and uses that toolbox's own names,
# bare, exactly as the toolbox's configs do. Everything the upstream module
# then builds, including defaults that the config never writes (such as a
# decode head's CrossEntropyLoss), resolves in that toolbox. mmzoo components
# are always written `mmzoo.X`; mmengine and mmcv names resolve from any
# scope.
default_scope = 'mmzoo'
env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'),
)
vis_backends = [dict(type='LocalVisBackend')]
log_level = 'INFO'
load_from = None
resume = False
# Exact resume: random states travel with the checkpoints.
custom_hooks = [dict(type='mmzoo.RNGStateHook')]
randomness = dict(seed=None, deterministic=False)
