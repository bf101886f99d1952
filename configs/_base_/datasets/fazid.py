# FAZID (Agarwal et al., 2020): 6 mm x 6 mm scans of 420x420 pixels of
# normal, diabetic and myopic eyes, sorted into class folders per split:
#   data/FAZID/{train,val,test}/{image,mask}/{Normal,Diabetic,Myopic}/*.png
# FAZID ships no split; make one with these folders (the official
# MultitaskOCTA code reads the class from the file name instead).
_base_ = ['./octa500_6mm.py']
dataset_type = 'mmzoo.FAZFolderDataset'
data_root = 'data/FAZID'
metainfo = dict(diagnosis_classes=('Normal', 'Diabetic', 'Myopic'))


def _split(name):
    return dict(
        _delete_=True,
        type=dataset_type,
        data_root=data_root,
        fov_mm=6.0,
        data_prefix=dict(
            img_path=f'{name}/image', seg_map_path=f'{name}/mask'),
        metainfo=metainfo)


train_dataloader = dict(
    dataset=dict(**_split('train'), pipeline={{_base_.train_pipeline}}))
val_dataloader = dict(
    dataset=dict(**_split('val'), pipeline={{_base_.test_pipeline}}))
test_dataloader = dict(
    dataset=dict(**_split('test'), pipeline={{_base_.test_pipeline}}))
