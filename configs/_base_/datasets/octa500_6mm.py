# OCTA-500's 6 mm set (Li et al., Medical Image Analysis 2024) in its release
# layout, FAZ masks and diagnoses:
#   data/OCTA-500/OCTA_6mm/Projection Maps/OCTA(ILM_OPL)/<id>.bmp  400x400
#   data/OCTA-500/OCTA_6mm/Text labels.xlsx      ID, Sex, OS/OD, Age, Disease
#   data/OCTA-500/Label/GT_FAZ/<id>.bmp           0 background, 255 FAZ
# Split by subject as the OCTA-500 paper: 10001-10180 train, 10181-10200
# val, 10201-10300 test. Images are read as one grey channel at their full
# 400x400 (6 mm / 400 = 0.015 mm per pixel).
dataset_type = 'mmzoo.OCTA500Dataset'
data_root = 'data/OCTA-500'
fov_mm = 6.0
label_sheet = 'OCTA_6mm/Text labels.xlsx'
data_prefix = dict(
    img_path='OCTA_6mm/Projection Maps/OCTA(ILM_OPL)',
    seg_map_path='Label/GT_FAZ')
metainfo = dict(
    diagnosis_classes=('NORMAL', 'AMD', 'DR', 'CNV', 'CSC', 'RVO', 'OTHERS'))
train_subjects = (10001, 10180)
val_subjects = (10181, 10200)
test_subjects = (10201, 10300)
# As the official training (MultitaskOCTA's octaaug.py): flips, a rotation
# of up to 90 degrees (padded with background rather than reflected), and
# the boundary heatmap and distance map drawn from the augmented mask. The
# official photometric augmentations are left out: mmseg's act on colour.
train_pipeline = [
    dict(type='LoadImageFromFile', color_type='grayscale'),
    dict(type='mmzoo.LoadFAZAnnotation'),
    dict(type='mmseg.RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='mmseg.RandomFlip', prob=0.5, direction='vertical'),
    dict(
        type='mmseg.RandomRotate',
        prob=0.5,
        degree=90,
        pad_val=0,
        seg_pad_val=0),
    dict(type='mmzoo.GenerateFAZTargets'),
    dict(type='mmzoo.PackOCTAInputs')
]
# Masks, and so the metric's distances, stay at the original size.
test_pipeline = [
    dict(type='LoadImageFromFile', color_type='grayscale'),
    dict(type='mmzoo.LoadFAZAnnotation'),
    dict(type='mmzoo.PackOCTAInputs')
]
train_dataloader = dict(
    batch_size=8,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        fov_mm=fov_mm,
        label_sheet=label_sheet,
        data_prefix=data_prefix,
        metainfo=metainfo,
        subjects=train_subjects,
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        fov_mm=fov_mm,
        label_sheet=label_sheet,
        data_prefix=data_prefix,
        metainfo=metainfo,
        subjects=val_subjects,
        pipeline=test_pipeline))
test_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        fov_mm=fov_mm,
        label_sheet=label_sheet,
        data_prefix=data_prefix,
        metainfo=metainfo,
        subjects=test_subjects,
        pipeline=test_pipeline))
# FAZ Dice, Jaccard, HD95 and ASSD (mm), diagnosis accuracy, kappa,
# per-class precision and recall and the confusion matrix.
val_evaluator = dict(type='mmzoo.OCTAMetric')
test_evaluator = val_evaluator
