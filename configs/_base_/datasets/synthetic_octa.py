# The generated eyes of tools/dataset_converters/make_synthetic_octa.py in
# OCTA-500's 6 mm layout: 60 subjects by default (10001-10060) cycling
# through NORMAL, DR and AMD, split 36/12/12 by subject. Images keep the size
# they were generated at (400x400 by default, 96x96 in the tests).
_base_ = ['./octa500_6mm.py']
data_root = 'data/synthetic_octa'
metainfo = dict(diagnosis_classes=('NORMAL', 'DR', 'AMD'))
train_dataloader = dict(
    num_workers=2,
    dataset=dict(
        data_root=data_root, metainfo=metainfo, subjects=(10001, 10036)))
val_dataloader = dict(
    num_workers=2,
    dataset=dict(
        data_root=data_root, metainfo=metainfo, subjects=(10037, 10048)))
test_dataloader = dict(
    num_workers=2,
    dataset=dict(
        data_root=data_root, metainfo=metainfo, subjects=(10049, 10060)))
