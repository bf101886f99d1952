# The change-detection half of the ablation: mmzoo's `make demo` recipe
# (STANet on generated LEVIR-CD pairs, 64x64 crops, Adam 1e-3 with the
# official betas, linear decay over the second half) with STANet-base (no
# attention module) so that the neck is what differs, and 300 iterations
# to fit the grid's budget. Each config replaces only `neck`.
_base_ = [
    '../../../../configs/stanet/stanet-pam_r18_1xb8-600iter_synthlevircd-64x64.py'  # noqa: E501
]
custom_imports = dict(
    imports=['mmzoo.models', 'projects.res2decoder.res2decoder'],
    allow_failed_imports=False)
max_iters = 300
model = dict(decode_head=dict(attention='none'))
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1.0,
        end_factor=0.01,
        begin=max_iters // 2,
        end=max_iters,
        by_epoch=False)
]
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(
    checkpoint=dict(by_epoch=False, interval=max_iters, save_best=None))
custom_hooks = [dict(type='mmzoo.RNGStateHook')]
