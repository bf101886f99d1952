# UperNet with a Swin-T backbone, as the official segmentation repository
# (github SwinTransformer/Swin-Transformer-Semantic-Segmentation,
# configs/_base_/models/upernet_swin.py) and mmseg build it: mmseg's UperNet
# with Swin-T in place of its ResNet-50-V1c, the heads reading Swin-T's
# widths, and ADE20K's 150 classes.
_base_ = ['mmseg::_base_/models/upernet_r50.py']
# Replaces mmseg's norm_cfg instead of merging into it: see
# upernet_res2net50.py.
norm_cfg = dict(_delete_=True, type='SyncBN', requires_grad=True)
model = dict(
    _scope_='mmseg',
    # mmseg's ResNet-50-V1c weights; ours come through the backbone's init_cfg.
    pretrained=None,
    backbone=dict(
        _delete_=True,
        type='mmzoo.SwinTransformer',
        arch='tiny',
        window_size=7,
        mlp_ratio=4,
        qkv_bias=True,
        drop_path_rate=0.3,
        out_indices=(0, 1, 2, 3)),
    decode_head=dict(in_channels=[96, 192, 384, 768], num_classes=150),
    auxiliary_head=dict(in_channels=384, num_classes=150))
