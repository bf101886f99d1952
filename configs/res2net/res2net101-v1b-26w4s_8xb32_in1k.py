_base_ = ['./res2net50-26w4s_8xb32_in1k.py']
model = dict(backbone=dict(depth=101, deep_stem=True, avg_down=True))
