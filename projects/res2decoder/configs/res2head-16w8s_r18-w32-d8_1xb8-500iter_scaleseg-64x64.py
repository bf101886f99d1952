# Res2Head, 8 splits of 16 channels.
_base_ = ['./_base_/res2head.py']
model = dict(decode_head=dict(scales=8, base_width=32))
