# T2Net on fastMRI single-coil knee, x2: 320x320 reconstruction_esc slices
# from 160x160 zero-filled k-space, the official model and schedule.
_base_ = [
    '../_base_/models/t2net_edsr.py', '../_base_/datasets/fastmri_knee_x2.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_t2net_50e.py'
]
