# T2Net on IXI T2, x4: 256x256 slices from 64x64 zero-filled k-space, the
# official model with a second pixel-shuffle stage and the official
# schedule (the official code trains only x2).
_base_ = [
    '../_base_/models/t2net_edsr.py', '../_base_/datasets/ixi_t2_x4.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_t2net_50e.py'
]
model = dict(scale=4)
