# mmseg's UperNet with Res2Net-50 (26w4s) in place of its ResNet-50-V1c.
_base_ = ['mmseg::_base_/models/upernet_r50.py']
# mmengine gives every top-level dict of a base from another package that
# package's `_scope_`. mmcv builds norm layers and rejects the key, so the
# norm_cfg that configs reuse as {{_base_.norm_cfg}} replaces mmseg's instead
# of merging into it.
norm_cfg = dict(_delete_=True, type='SyncBN', requires_grad=True)
model = dict(
    _scope_='mmseg',
    # mmseg's ResNet-50-V1c weights; ours come through the backbone's init_cfg.
    pretrained=None,
    backbone=dict(
        _delete_=True,
        type='mmzoo.Res2Net',
        depth=50,
        scales=4,
        base_width=26,
        out_indices=(0, 1, 2, 3),
        strides=(1, 2, 2, 2),
        dilations=(1, 1, 1, 1),
        norm_cfg=dict(type='SyncBN', requires_grad=True),
        norm_eval=False))
