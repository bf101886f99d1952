# Res2Head with cardinality (Res2NeXt): 4 splits of 64 channels, each 3x3
# convolution in 4 groups of 16, so the same 3x3 weights as 32w4s at twice
# the width.
_base_ = ['./_base_/res2head.py']
model = dict(decode_head=dict(scales=4, base_width=32, groups=4))
