# The `make demo-bsda` model: BSDA-Net trained from scratch on generated
# OCTA-500-style eyes (tools/dataset_converters/make_synthetic_octa.py,
# 96x96, three diagnoses), sized to train on 2 CPU cores in minutes:
# ResNet-18 encoders at a quarter of the width (16 to 128 channels) and
# decoders of (64, 32, 16, 8, 8) channels, the official wiring otherwise.
# Batch 8 and Adam at its default 1e-3 (the official 1e-4 serves 500 epochs
# of batch 64); the cross-entropy comes in after 8 of the 60 epochs, the
# official 60 of 500 (12%) shortened with the schedule. One data worker: on
# two cores, more workers starve the training step.
_base_ = [
    '../_base_/models/bsda-net_r34.py', '../_base_/datasets/synthetic_octa.py',
    '../_base_/default_runtime_seg.py',
    '../_base_/schedules/schedule_bsda_500e.py'
]
max_epochs = 60
width = 16
stage_channels = (width, width, 2 * width, 4 * width, 8 * width)
decoder_channels = (64, 32, 16, 8, 8)
encoder = dict(
    type='mmzoo.ResNet',
    depth=18,
    in_channels=1,
    base_channels=width,
    stem_channels=width,
    out_indices=(0, 1, 2, 3),
    norm_cfg={{_base_.norm_cfg}})
model = dict(
    backbone=encoder,
    decode_head=dict(
        in_channels=stage_channels, decoder_channels=decoder_channels),
    cls_head=dict(
        encoder=encoder,
        stage_channels=stage_channels,
        decoder_channels=decoder_channels[-2::-1],
        num_classes=3))
train_dataloader = dict(batch_size=8, num_workers=1, drop_last=True)
val_dataloader = dict(num_workers=1)
test_dataloader = dict(num_workers=1)
optim_wrapper = dict(optimizer=dict(lr=1e-3))
auto_scale_lr = dict(base_batch_size=8)
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
default_hooks = dict(
    logger=dict(interval=5),
    checkpoint=dict(interval=max_epochs, save_best=None))
log_processor = dict(by_epoch=True)
custom_hooks = [
    dict(type='mmzoo.RNGStateHook'),
    dict(type='mmzoo.ClsLossWarmupHook', start_epoch=8)
]
visualizer = dict(type='mmzoo.OCTAVisualizer')
randomness = dict(seed=0)
