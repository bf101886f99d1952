# IXI T2 volumes as released (https://brain-development.org/ixi-dataset/),
# split into folders (or listed per split in ann_file text files):
#   data/IXI/{train,val,test}/IXI002-Guys-0828-T2.nii.gz
# The official T2Net slices (github chunmeifeng/T2Net,
# fastmri/mri_ixi_t2net.py): axial slices 20, 25, ..., 115, 119 of volumes
# with at least 120 slices. Each slice is degraded in k-space: the centre
# 128x128 of its 256x256 k-space is the x2 low-resolution target, that block
# times a 1D Cartesian mask with the official 1D-Cartesian_6X_128128.mat's
# statistics (38 of 128 columns, a 20-column centre) the zero-filled input.
# Slices are standardised by their own mean and std, as official. The data
# samples are mmengine BaseDataElements, which the default pseudo_collate
# leaves as lists for the model's data preprocessor to stack.
dataset_type = 'mmzoo.IXIDataset'
data_root = 'data/IXI'
scale = 2
slice_range = (20, 120)
slice_step = 5
pipeline = [
    dict(type='mmzoo.LoadIXISlice'),
    dict(type='mmzoo.KSpaceDegrade', scale=scale, mask='official_6x'),
    dict(type='mmzoo.PackMRIInputs')
]
train_dataloader = dict(
    batch_size=8,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(img_path='train'),
        slice_range=slice_range,
        slice_step=slice_step,
        pipeline=pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(img_path='val'),
        slice_range=slice_range,
        slice_step=slice_step,
        test_mode=True,
        pipeline=pipeline))
test_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(img_path='test'),
        slice_range=slice_range,
        slice_step=slice_step,
        test_mode=True,
        pipeline=pipeline))
# PSNR, SSIM and NMSE per volume (fastMRI's definitions, in the images' own
# units), averaged over volumes, for both branches and the zero-filled +
# bicubic baseline.
val_evaluator = dict(type='mmzoo.ReconstructionMetric', baseline=True)
test_evaluator = val_evaluator
