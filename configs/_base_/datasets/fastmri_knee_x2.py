# fastMRI single-coil knee (https://fastmri.med.nyu.edu/) as released:
#   data/fastmri_knee/singlecoil_{train,val}/file1000001.h5
# Every slice's image is the magnitude of its k-space's inverse FFT cropped
# to 320x320 (reconstruction_esc's size); the centre 160x160 of its k-space
# is the x2 low-resolution target, masked with the official 6X statistics
# (29.7% of the columns, a 25-column centre) the zero-filled input. The
# challenge's test files carry no reconstruction, so the val split is the
# test split.
_base_ = ['./ixi_t2_x2.py']
dataset_type = 'mmzoo.FastMRIDataset'
data_root = 'data/fastmri_knee'
pipeline = [
    dict(type='mmzoo.LoadFastMRISlice'),
    dict(type='mmzoo.KSpaceDegrade', scale=2, mask='official_6x'),
    dict(type='mmzoo.PackMRIInputs')
]
train_dataloader = dict(
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(img_path='singlecoil_train'),
        slice_range=None,
        slice_step=1,
        pipeline=pipeline))
val_dataloader = dict(
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(img_path='singlecoil_val'),
        slice_range=None,
        slice_step=1,
        pipeline=pipeline))
test_dataloader = val_dataloader
