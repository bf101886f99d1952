# mmseg's DeepLabV3 (ASPP head) with ResNeSt-50 dilated to output stride 8 in
# place of its ResNet-50-V1c.
_base_ = ['mmseg::_base_/models/deeplabv3_r50-d8.py']
# Replaces mmseg's norm_cfg instead of merging into it: see
# upernet_res2net50.py.
norm_cfg = dict(_delete_=True, type='SyncBN', requires_grad=True)
model = dict(
    _scope_='mmseg',
    # mmseg's ResNet-50-V1c weights; ours come through the backbone's init_cfg.
    pretrained=None,
    backbone=dict(
        _delete_=True,
        type='mmzoo.ResNeSt',
        depth=50,
        out_indices=(0, 1, 2, 3),
        strides=(1, 2, 1, 1),
        dilations=(1, 1, 2, 4),
        norm_cfg=dict(type='SyncBN', requires_grad=True),
        norm_eval=False))
