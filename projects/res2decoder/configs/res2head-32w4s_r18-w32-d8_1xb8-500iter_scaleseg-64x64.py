# Res2Head, 4 splits of 32 channels.
_base_ = ['./_base_/res2head.py']
model = dict(decode_head=dict(scales=4, base_width=64))
