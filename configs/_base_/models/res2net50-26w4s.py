# mmpretrain's ResNet-50 classifier with Res2Net-50 (26w4s) in place of its
# ResNet-50.
_base_ = ['mmpretrain::_base_/models/resnet50.py']
model = dict(
    _scope_='mmpretrain',
    backbone=dict(
        _delete_=True,
        type='mmzoo.Res2Net',
        depth=50,
        scales=4,
        base_width=26,
        out_indices=(3, )))
