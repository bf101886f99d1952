# Swin-S: the Swin-T recipe with drop path 0.3 (official
# configs/swin/swin_small_patch4_window7_224.yaml).
_base_ = ['./swin-tiny_16xb64_in1k.py']
model = dict(backbone=dict(arch='small', drop_path_rate=0.3))
