# The multi-head analogy: 32w4s with attention between the splits (queries
# and keys of 8 channels) in place of the chain; Res2Net's convolutions are
# kept one for one.
_base_ = ['./_base_/res2head.py']
model = dict(
    decode_head=dict(
        scales=4, base_width=64, mixing='attention', key_channels=8))
