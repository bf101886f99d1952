# The generated eyes of tools/dataset_converters/make_synthetic_octa.py in
# OCTA-500's 6 mm layout: 120 subjects by default (10001-10120) cycling
# through NORMAL, DR and AMD, split 90/15/15 by subject: a diagnosis learnt
# from scratch needs more than a dozen training eyes per class to carry over
# to unseen ones. Images keep the size
# they were generated at (400x400 by default, 96x96 in the tests).
_base_ = ['./octa500_6mm.py']
data_root = 'data/synthetic_octa'
metainfo = dict(diagnosis_classes=('NORMAL', 'DR', 'AMD'))
train_dataloader = dict(
    num_workers=2,
    dataset=dict(
        data_root=data_root, metainfo=metainfo, subjects=(10001, 10090)))
val_dataloader = dict(
    num_workers=2,
    dataset=dict(
        data_root=data_root, metainfo=metainfo, subjects=(10091, 10105)))
test_dataloader = dict(
    num_workers=2,
    dataset=dict(
        data_root=data_root, metainfo=metainfo, subjects=(10106, 10120)))
