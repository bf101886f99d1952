# mmdet's ResNeSt detection setting (mmdet configs/resnest,
# cascade-rcnn_s50_fpn_syncbn-backbone+head_ms-range-1x_coco.py): SyncBN in
# the backbone and the box heads, norms trained (norm_eval=False), stem and
# first stage frozen, 4-conv box heads, and ResNeSt's image normalisation.
# Without a distributed launcher mmengine turns SyncBN into BN.
_base_ = ['mmdet::_base_/models/cascade-rcnn_r50_fpn.py']
norm_cfg = dict(type='SyncBN', requires_grad=True)
model = dict(
    _scope_='mmdet',
    data_preprocessor=dict(
        mean=[123.68, 116.779, 103.939], std=[58.393, 57.12, 57.375]),
    backbone=dict(
        _delete_=True,
        type='mmzoo.ResNeSt',
        depth=50,
        out_indices=(0, 1, 2, 3),
        frozen_stages=1,
        norm_cfg=norm_cfg,
        norm_eval=False),
    # A list replaces the base's whole list, so each stage's head is taken
    # from mmdet's and changed where ResNeSt's setting differs.
    roi_head=dict(bbox_head=[
        dict(
            stage_head,
            type='Shared4Conv1FCBBoxHead',
            conv_out_channels=256,
            norm_cfg=norm_cfg)
        for stage_head in _base_.model.roi_head.bbox_head
    ]))
