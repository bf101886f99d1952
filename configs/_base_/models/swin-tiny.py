# The official Swin-T ImageNet classifier (github microsoft/Swin-Transformer):
# the backbone's last stage with the official final norm (norm3), global
# average pooling and a linear head; mmpretrain's Swin-T classifier with ours
# in place of its backbone.
_base_ = ['mmpretrain::_base_/models/swin_transformer/tiny_224.py']
model = dict(
    _scope_='mmpretrain',
    backbone=dict(
        _delete_=True,
        type='mmzoo.SwinTransformer',
        arch='tiny',
        window_size=7,
        drop_path_rate=0.2,
        out_indices=(3, )))
