# The change-detection half of the ablation: STANet-base (no attention
# module, so that the neck is what differs) with the ResNet-18 trunk, from
# scratch on mmzoo's generated LEVIR-CD pairs
# (tools/dataset_converters/make_synthetic_levircd.py, 256x256). The recipe
# is `make demo`'s at the time of the grid, written out here so that a later
# change of the demo cannot change the experiment: 64x64 crops rotated 0-15
# degrees on a grey canvas as the official training, batch 8, Adam 1e-3 with
# the official betas, constant for half the iterations then linear decay;
# validated on 64x64 windows (stride 32) of the 256x256 images. Each config
# replaces only `neck`.
_base_ = [
    '../../../../configs/_base_/models/stanet_r18.py',
    '../../../../configs/_base_/datasets/synthetic_levircd.py',
    '../../../../configs/_base_/default_runtime_seg.py',
    '../../../../configs/_base_/schedules/schedule_stanet_200e.py'
]
# The grid's own 48/8/16 pairs (tools/ablation.py writes them), apart from
# `make demo`'s set, whose size may change.
data_root = 'data/res2decoder_levircd'
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = dict(dataset=dict(data_root=data_root))
custom_imports = dict(
    imports=['mmzoo.models', 'projects.res2decoder.res2decoder'],
    allow_failed_imports=False)
crop_size = (64, 64)
max_iters = 300
model = dict(
    data_preprocessor=dict(size=crop_size),
    decode_head=dict(attention='none'),
    test_cfg=dict(mode='slide', crop_size=crop_size, stride=(32, 32)))
train_pipeline = [
    dict(type='mmzoo.LoadBitemporalImages'),
    dict(type='mmzoo.LoadChangeLabel'),
    dict(
        type='mmzoo.BitemporalRandomRotate',
        prob=1.0,
        degree=(0, 15),
        pad_val=128),
    dict(type='mmseg.RandomCrop', crop_size=crop_size),
    dict(type='mmzoo.PackBitemporalInputs')
]
train_dataloader = dict(
    batch_size=8,
    num_workers=1,
    # An endless sampler, so that the loader of this small set does not
    # restart every few iterations.
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(data_root=data_root, pipeline=train_pipeline))
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1.0,
        end_factor=0.01,
        begin=max_iters // 2,
        end=max_iters,
        by_epoch=False)
]
train_cfg = dict(
    _delete_=True,
    type='IterBasedTrainLoop',
    max_iters=max_iters,
    val_interval=max_iters)
default_hooks = dict(
    logger=dict(interval=20, log_metric_by_epoch=False),
    checkpoint=dict(by_epoch=False, interval=max_iters, save_best=None))
log_processor = dict(by_epoch=False)
randomness = dict(seed=0)
custom_hooks = [dict(type='mmzoo.RNGStateHook')]
