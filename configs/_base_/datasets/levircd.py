# LEVIR-CD cut into the paper's 256x256 patches by
# tools/dataset_converters/levircd.py:
#   data/levir-cd/{train,val,test}/{A,B,label}/*.png   (7120/1024/2048 pairs)
#   data/levir-cd/whole/{val,test}/{A,B,label}/*.png   (the 1024x1024 tiles,
#   read by levircd_whole.py)
# Both dates travel as one 6-channel image (A's RGB, then B's), so mmseg's
# crop moves A, B and the label together.
dataset_type = 'mmzoo.LEVIRCDDataset'
data_root = 'data/levir-cd'
crop_size = (256, 256)
train_pipeline = [
    dict(type='mmzoo.LoadBitemporalImages'),
    dict(type='mmzoo.LoadChangeLabel'),
    # As the official STANet: every pair turned by 0-15 degrees on an
    # expanded canvas, then a 256 crop; no flips, no colour jitter. The new
    # corners are labelled 255 (ignored).
    dict(type='mmzoo.BitemporalRandomRotate', prob=1.0, degree=(0, 15)),
    dict(type='mmseg.RandomCrop', crop_size=crop_size),
    dict(type='mmzoo.PackBitemporalInputs')
]
test_pipeline = [
    dict(type='mmzoo.LoadBitemporalImages'),
    dict(type='mmzoo.LoadChangeLabel'),
    dict(type='mmzoo.PackBitemporalInputs')
]
train_dataloader = dict(
    batch_size=8,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(
            img_path_a='train/A',
            img_path_b='train/B',
            seg_map_path='train/label'),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(
            img_path_a='val/A', img_path_b='val/B', seg_map_path='val/label'),
        pipeline=test_pipeline))
test_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(
            img_path_a='test/A',
            img_path_b='test/B',
            seg_map_path='test/label'),
        pipeline=test_pipeline))
# Precision, recall, F1, IoU of the change class, OA and kappa, in percent,
# from one confusion matrix over the split.
val_evaluator = dict(type='mmzoo.ChangeMetric')
test_evaluator = val_evaluator
