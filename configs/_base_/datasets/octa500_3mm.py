# OCTA-500's 3 mm set: 304x304 images (3 mm / 304, about 0.0099 mm per
# pixel), subjects 10301-10500, four diagnoses; split by subject as the
# OCTA-500 paper: 10301-10440 train, 10441-10450 val, 10451-10500 test.
_base_ = ['./octa500_6mm.py']
fov_mm = 3.0
label_sheet = 'OCTA_3mm/Text labels.xlsx'
data_prefix = dict(
    img_path='OCTA_3mm/Projection Maps/OCTA(ILM_OPL)',
    seg_map_path='Label/GT_FAZ')
metainfo = dict(diagnosis_classes=('NORMAL', 'AMD', 'DR', 'CNV'))
split = dict(
    fov_mm=fov_mm,
    label_sheet=label_sheet,
    data_prefix=data_prefix,
    metainfo=metainfo)
train_dataloader = dict(dataset=dict(**split, subjects=(10301, 10440)))
val_dataloader = dict(dataset=dict(**split, subjects=(10441, 10450)))
test_dataloader = dict(dataset=dict(**split, subjects=(10451, 10500)))
