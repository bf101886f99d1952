"""FAZFolderDataset reads class folders of images and FAZ masks (the FAZID
config on the generator's FAZID layout) and names what is inconsistent."""
import runpy

import cv2
import numpy as np
import pytest
from mmengine.config import Config
from mmzoo_testing import REPO
from PIL import Image

from mmzoo.registry import DATASETS

pytestmark = pytest.mark.default_scope('mmzoo')

PIPELINE = [
    dict(type='LoadImageFromFile', color_type='grayscale'),
    dict(type='mmzoo.LoadFAZAnnotation'),
    dict(type='mmzoo.PackOCTAInputs')
]


@pytest.fixture(scope='module')
def fazid(tmp_path_factory):
    out = tmp_path_factory.mktemp('fazid') / 'data'
    runpy.run_path(
        f'{REPO}/tools/dataset_converters/make_synthetic_octa.py')['main']([
            str(out), '--layout', 'fazid', '--num-train', '4', '--num-val',
            '1', '--num-test', '1', '--size', '48'
        ])
    return out


def test_fazid_config_reads_the_class_folders(fazid):
    cfg = Config.fromfile(f'{REPO}/configs/_base_/datasets/fazid.py')
    dataset = DATASETS.build(
        dict(
            cfg.test_dataloader.dataset,
            data_root=str(fazid),
            data_prefix=dict(
                img_path='train/image', seg_map_path='train/mask'),
            serialize_data=False))
    assert dataset.metainfo['diagnosis_classes'] == ('Normal', 'Diabetic',
                                                     'Myopic')
    infos = [dataset.get_data_info(i) for i in range(len(dataset))]
    # Sorted by class folder name, then file name.
    assert [(i['subject_id'], i['gt_class'])
            for i in infos] == [('Diabetic/2', 1), ('Myopic/3', 2),
                                ('Normal/1', 0), ('Normal/4', 0)]
    for info in infos:
        assert info['img_path'] == str(fazid / 'train/image' /
                                       f'{info["subject_id"]}.png')
        assert info['seg_map_path'] == str(fazid / 'train/mask' /
                                           f'{info["subject_id"]}.png')
        assert info['pixel_spacing'] == pytest.approx(6.0 / 48)
    sample = dataset[0]
    image = np.asarray(Image.open(infos[0]['img_path']).convert('L'))
    mask = np.asarray(Image.open(infos[0]['seg_map_path']))
    np.testing.assert_array_equal(sample['inputs'][0].numpy(), image)
    np.testing.assert_array_equal(
        sample['data_samples'].gt_sem_seg.data[0].numpy(), mask // 255)
    assert int(sample['data_samples'].gt_class) == 1


def make_folders(root, names=('Normal/a.png', 'myopic/b.png')):
    """Images and masks in class folders; folder case differs from the
    metainfo's on purpose."""
    mask = np.zeros((12, 16), np.uint8)
    mask[4:8, 5:10] = 255
    for name in names:
        for folder, image in (('image', np.full((12, 16), 80,
                                                np.uint8)), ('mask', mask)):
            path = root / folder / name
            path.parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(path), image)
    return root


def build(root):
    return DATASETS.build(
        dict(
            type='mmzoo.FAZFolderDataset',
            data_root=str(root),
            pipeline=PIPELINE,
            serialize_data=False))


def test_class_folder_case_is_ignored(tmp_path):
    dataset = build(make_folders(tmp_path))
    assert [dataset.get_data_info(i)['gt_class'] for i in range(2)] == [0, 2]


def test_unknown_class_folder_is_named(tmp_path):
    root = make_folders(tmp_path, ('Normal/a.png', 'Glaucoma/b.png'))
    with pytest.raises(
            ValueError,
            match=r"class folder .*image.Glaucoma: unknown class name "
            r"'Glaucoma'"):
        build(root)


def test_image_without_mask_is_named(tmp_path):
    root = make_folders(tmp_path)
    (root / 'mask/myopic/b.png').unlink()
    with pytest.raises(
            FileNotFoundError, match=r'image .*myopic.b\.png has no FAZ mask'):
        build(root)


def test_mask_without_image_is_named(tmp_path):
    root = make_folders(tmp_path)
    (root / 'image/Normal/a.png').unlink()
    with pytest.raises(
            FileNotFoundError, match=r'FAZ mask .*Normal.a\.png has no image'):
        build(root)


def test_image_outside_a_class_folder_is_named(tmp_path):
    root = make_folders(tmp_path)
    cv2.imwrite(str(root / 'image/c.png'), np.zeros((12, 16), np.uint8))
    with pytest.raises(
            ValueError, match=r'c\.png is not directly inside a class'):
        build(root)


def test_image_and_mask_of_different_sizes_name_both(tmp_path):
    root = make_folders(tmp_path)
    cv2.imwrite(str(root / 'mask/Normal/a.png'), np.zeros((12, 12), np.uint8))
    with pytest.raises(
            ValueError,
            match=r'mask.Normal.a\.png is 12x12 but its image '
            r'.*image.Normal.a\.png is 16x12'):
        build(root)


def test_mask_that_is_not_binary_is_named(tmp_path):
    root = make_folders(tmp_path)
    cv2.imwrite(
        str(root / 'mask/Normal/a.png'),
        np.arange(192, dtype=np.uint8).reshape(12, 16))
    with pytest.raises(ValueError, match=r'a\.png is not binary'):
        build(root)
