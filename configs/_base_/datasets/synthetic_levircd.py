# The generated pairs of tools/dataset_converters/make_synthetic_levircd.py,
# in LEVIR-CD's layout (256x256 by default, like the paper's patches).
_base_ = ['./levircd.py']
data_root = 'data/synthetic_levircd'
train_dataloader = dict(num_workers=2, dataset=dict(data_root=data_root))
val_dataloader = dict(num_workers=2, dataset=dict(data_root=data_root))
test_dataloader = dict(num_workers=2, dataset=dict(data_root=data_root))
