# BSDA-Net on FAZID (420x420, normal / diabetic / myopic), trained as the
# official code: batch 64, Adam 1e-4, 500 epochs, cross-entropy after 60
# epochs.
_base_ = [
    '../_base_/models/bsda-net_r34.py', '../_base_/datasets/fazid.py',
    '../_base_/default_runtime_seg.py',
    '../_base_/schedules/schedule_bsda_500e.py'
]
model = dict(cls_head=dict(num_classes=3))
# Officially drop_last: a small last batch would skew the BN statistics.
train_dataloader = dict(batch_size=64, drop_last=True)
log_processor = dict(by_epoch=True)
custom_hooks = [
    dict(type='mmzoo.RNGStateHook'),
    dict(type='mmzoo.ClsLossWarmupHook', start_epoch=60)
]
# Per image: FAZ contours (predicted and true) | heatmap | distance map, the
# predicted and true diagnosis in the title (tools/test.py --show-dir).
visualizer = dict(type='mmzoo.OCTAVisualizer')
