# LEVIR-CD's test split as whole 1024x1024 tiles (data/levir-cd/whole/test,
# kept by tools/dataset_converters/levircd.py), for comparing whole-image
# inference with a sliding window (model.test_cfg mode='slide',
# crop_size=(256, 256), stride=(128, 128), say) against the 256x256 patches.
_base_ = ['./levircd.py']
test_dataloader = dict(
    dataset=dict(
        data_prefix=dict(
            img_path_a='whole/test/A',
            img_path_b='whole/test/B',
            seg_map_path='whole/test/label')))
