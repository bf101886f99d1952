# IXI T2 at x4: the centre 64x64 of each slice's 256x256 k-space, masked with
# the official 6X statistics scaled to 64 columns (29.7% of the columns, a
# 10-column centre).
_base_ = ['./ixi_t2_x2.py']
scale = 4
pipeline = [
    dict(type='mmzoo.LoadIXISlice'),
    dict(type='mmzoo.KSpaceDegrade', scale=scale, mask='official_6x'),
    dict(type='mmzoo.PackMRIInputs')
]
train_dataloader = dict(dataset=dict(pipeline=pipeline))
val_dataloader = dict(dataset=dict(pipeline=pipeline))
test_dataloader = dict(dataset=dict(pipeline=pipeline))
