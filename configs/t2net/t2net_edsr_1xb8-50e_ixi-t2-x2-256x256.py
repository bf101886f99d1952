# T2Net on IXI T2, x2: 256x256 slices from 128x128 zero-filled k-space
# (the official 6X 1D Cartesian mask's statistics), the official model and
# schedule.
_base_ = [
    '../_base_/models/t2net_edsr.py', '../_base_/datasets/ixi_t2_x2.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_t2net_50e.py'
]
