# Swin-B: the Swin-T recipe with drop path 0.5 (official
# configs/swin/swin_base_patch4_window7_224.yaml).
_base_ = ['./swin-tiny_16xb64_in1k.py']
model = dict(
    backbone=dict(arch='base', drop_path_rate=0.5),
    head=dict(in_channels=1024))
