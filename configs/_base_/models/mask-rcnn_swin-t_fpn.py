# Mask R-CNN with a Swin-T FPN, as the official detection repository
# (github SwinTransformer/Swin-Transformer-Object-Detection,
# configs/_base_/models/mask_rcnn_swin_fpn.py) and mmdet build it: mmdet's
# Mask R-CNN with Swin-T in place of its ResNet-50.
_base_ = ['mmdet::_base_/models/mask-rcnn_r50_fpn.py']
model = dict(
    _scope_='mmdet',
    backbone=dict(
        _delete_=True,
        type='mmzoo.SwinTransformer',
        arch='tiny',
        window_size=7,
        mlp_ratio=4,
        qkv_bias=True,
        drop_path_rate=0.2,
        out_indices=(0, 1, 2, 3)),
    neck=dict(in_channels=[96, 192, 384, 768]))
