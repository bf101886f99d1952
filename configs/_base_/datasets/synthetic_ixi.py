# The phantoms of tools/dataset_converters/make_synthetic_mri.py in IXI's
# layout (64x64 slices, 20 per volume by default): six slices of each volume
# (3, 6, ..., 15 and 16), degraded as ixi_t2_x2.py degrades IXI.
_base_ = ['./ixi_t2_x2.py']
data_root = 'data/synthetic_ixi'
slice_range = (3, 17)
slice_step = 3
train_dataloader = dict(
    num_workers=2,
    dataset=dict(
        data_root=data_root, slice_range=slice_range, slice_step=slice_step))
val_dataloader = dict(
    num_workers=2,
    dataset=dict(
        data_root=data_root, slice_range=slice_range, slice_step=slice_step))
test_dataloader = dict(
    num_workers=2,
    dataset=dict(
        data_root=data_root, slice_range=slice_range, slice_step=slice_step))
