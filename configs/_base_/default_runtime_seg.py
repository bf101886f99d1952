_base_ = ['./default_runtime.py']
visualizer = dict(
    _scope_='mmseg',
    type='SegLocalVisualizer',
    vis_backends={{_base_.vis_backends}},
    name='visualizer')
log_processor = dict(by_epoch=False)
