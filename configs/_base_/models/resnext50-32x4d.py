# mmpretrain's ResNet-50 classifier with ResNeXt-50 (32x4d) in place of its
# ResNet-50.
_base_ = ['mmpretrain::_base_/models/resnet50.py']
model = dict(
    _scope_='mmpretrain',
    backbone=dict(
        _delete_=True,
        type='mmzoo.ResNeXt',
        depth=50,
        groups=32,
        base_width=4,
        out_indices=(3, )))
