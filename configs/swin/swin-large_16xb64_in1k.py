# Swin-L at 224². The official Swin-L is pre-trained on ImageNet-22k and
# fine-tuned on ImageNet-1k with this recipe (official
# configs/swin/swin_large_patch4_window7_224_22kto1k_finetune.yaml):
# 30 epochs, lr 2e-5 per 512 images, 5 warm-up epochs, weight decay 1e-8,
# drop path 0.2. Start it from converted 22k weights: `load_from` and
# `tools/train.py --allow-partial-load`, because their 21,841-class head does
# not fit this 1k head, which then starts fresh. The converted 22k->1k release
# fits exactly and evaluates with it directly.
_base_ = ['./swin-tiny_16xb64_in1k.py']
model = dict(
    backbone=dict(arch='large', drop_path_rate=0.2),
    head=dict(in_channels=1536))
optim_wrapper = dict(optimizer=dict(lr=2e-5 * 1024 / 512, weight_decay=1e-8))
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1e-3,
        by_epoch=True,
        end=5,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR',
        eta_min=2e-7 * 1024 / 512,
        by_epoch=True,
        begin=5)
]
train_cfg = dict(max_epochs=30)
