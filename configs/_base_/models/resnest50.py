# mmpretrain's ResNet-50 classifier with ResNeSt-50 in place of its ResNet-50.
_base_ = ['mmpretrain::_base_/models/resnet50.py']
model = dict(
    _scope_='mmpretrain',
    backbone=dict(
        _delete_=True, type='mmzoo.ResNeSt', depth=50, out_indices=(3, )))
