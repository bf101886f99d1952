_base_ = ['./res2net50-26w4s_8xb32_in1k.py']
model = dict(backbone=dict(scales=2, base_width=48))
