_base_ = ['./resnext50-32x4d_8xb32_in1k.py']
model = dict(backbone=dict(depth=101, groups=32, base_width=8))
