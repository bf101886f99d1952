# mmdet's Faster R-CNN with Res2Net-50 (26w4s) in place of its ResNet-50.
_base_ = ['mmdet::_base_/models/faster-rcnn_r50_fpn.py']
model = dict(
    _scope_='mmdet',
    backbone=dict(
        _delete_=True,
        type='mmzoo.Res2Net',
        depth=50,
        scales=4,
        base_width=26,
        out_indices=(0, 1, 2, 3),
        frozen_stages=1,
        norm_cfg=dict(type='BN', requires_grad=True),
        norm_eval=True))
