# Res2Head, 2 splits of 64 channels.
_base_ = ['./_base_/res2head.py']
model = dict(decode_head=dict(scales=2, base_width=128))
