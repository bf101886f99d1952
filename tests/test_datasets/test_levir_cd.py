"""LEVIRCDDataset reads LEVIR-CD's layout and refuses broken pairs by name."""
import cv2
import numpy as np
import pytest
from PIL import Image

from mmzoo.datasets import LEVIRCDDataset
from mmzoo.registry import DATASETS

pytestmark = pytest.mark.default_scope('mmzoo')

PREFIX = dict(
    img_path_a='train/A', img_path_b='train/B', seg_map_path='train/label')
PIPELINE = [
    dict(type='mmzoo.LoadBitemporalImages'),
    dict(type='mmzoo.LoadChangeLabel'),
    dict(type='mmzoo.PackBitemporalInputs')
]


def write(path, image):
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), image)


def make_pairs(root, names=('train_1.png', 'train_2.png'), size=(24, 32)):
    rng = np.random.default_rng(0)
    for name in names:
        for folder in 'AB':
            write(root / 'train' / folder / name,
                  rng.integers(0, 256, (*size, 3), dtype=np.uint8))
        label = (rng.random(size) < 0.3).astype(np.uint8) * 255
        write(root / 'train' / 'label' / name, label)
    return root


def build(root, pipeline=PIPELINE):
    return DATASETS.build(
        dict(
            type='mmzoo.LEVIRCDDataset',
            data_root=str(root),
            data_prefix=PREFIX,
            pipeline=pipeline))


def test_reads_pairs_in_rgb_with_01_labels(tmp_path):
    root = make_pairs(tmp_path)
    dataset = build(root)
    assert len(dataset) == 2
    assert dataset.metainfo['classes'] == ('unchanged', 'changed')
    assert dataset.metainfo['palette'] == [[0, 0, 0], [255, 255, 255]]
    info = dataset.get_data_info(1)
    folder = root / 'train'
    assert info['img_path_a'] == str(folder / 'A' / 'train_2.png')
    assert info['img_path_b'] == str(folder / 'B' / 'train_2.png')
    # mmseg's visualiser reads img_path: the later date.
    assert info['img_path'] == info['img_path_b']
    assert info['seg_map_path'] == str(folder / 'label' / 'train_2.png')
    assert info['reduce_zero_label'] is False

    data = dataset[1]
    inputs = data['inputs']
    assert str(inputs.dtype) == 'torch.uint8'
    assert tuple(inputs.shape) == (6, 24, 32)
    # PIL is the independent reader; RGB order, A then B.
    rgb_a = np.asarray(Image.open(info['img_path_a']).convert('RGB'))
    rgb_b = np.asarray(Image.open(info['img_path_b']).convert('RGB'))
    np.testing.assert_array_equal(inputs[:3].permute(1, 2, 0).numpy(), rgb_a)
    np.testing.assert_array_equal(inputs[3:].permute(1, 2, 0).numpy(), rgb_b)
    label = np.asarray(Image.open(info['seg_map_path']))
    sample = data['data_samples']
    np.testing.assert_array_equal(sample.gt_sem_seg.data[0].numpy(),
                                  label // 255)
    assert sample.img_path_a == info['img_path_a']
    assert sample.img_path_b == info['img_path_b']
    assert sample.ori_shape == (24, 32)


@pytest.mark.parametrize(
    'removed, message', [
        ('B/train_2.png', r'B.train_2\.png'),
        ('A/train_1.png', r'B.train_1\.png has no date-A partner'),
        ('label/train_1.png', r'label.train_1\.png'),
    ],
    ids=['date B missing', 'date B without date A', 'label missing'])
def test_an_unpaired_file_is_named(tmp_path, removed, message):
    root = make_pairs(tmp_path)
    (root / 'train' / removed).unlink()
    with pytest.raises(FileNotFoundError, match=message):
        build(root)


def test_missing_folder_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match=r'train.A'):
        build(tmp_path)


# Every pair is checked when the dataset is built, before any training: a
# broken pair found only when first drawn would crash a run hours in.


def test_dates_of_different_size_name_both_files(tmp_path):
    root = make_pairs(tmp_path)
    write(root / 'train' / 'B' / 'train_2.png', np.zeros((24, 30, 3),
                                                         np.uint8))
    with pytest.raises(
            ValueError,
            match=r'A.train_2\.png is 32x24.*'
            r'B.train_2\.png is 30x24'):
        build(root)


@pytest.mark.parametrize('bad', [1, 128, 254])
def test_label_values_other_than_0_255_name_the_file(tmp_path, bad):
    root = make_pairs(tmp_path)
    label = np.zeros((24, 32), np.uint8)
    label[3, 4] = bad
    write(root / 'train' / 'label' / 'train_1.png', label)
    with pytest.raises(
            ValueError, match=rf'label.train_1\.png holds values \[{bad}\]'):
        build(root)


def test_label_of_another_size_names_the_file(tmp_path):
    root = make_pairs(tmp_path)
    write(root / 'train' / 'label' / 'train_1.png', np.zeros((20, 32),
                                                             np.uint8))
    with pytest.raises(ValueError, match=r'label.train_1\.png is 32x20'):
        build(root)


@pytest.mark.parametrize(
    'folder', ['A', 'B', 'label'], ids=['date A', 'date B', 'label'])
@pytest.mark.parametrize(
    'content', [b'', b'not a picture'], ids=['empty', 'text'])
def test_an_undecodable_file_is_named(tmp_path, folder, content):
    root = make_pairs(tmp_path)
    (root / 'train' / folder / 'train_2.png').write_bytes(content)
    with pytest.raises(ValueError, match=rf'{folder}.train_2\.png'):
        build(root)


@pytest.mark.parametrize(
    'content', [b'', b'not a picture'], ids=['empty', 'text'])
def test_transforms_name_an_undecodable_file(tmp_path, content):
    """A file that breaks after the dataset was built: mmcv raises a bare
    cv2.error for an empty file, which must not reach the user."""
    root = make_pairs(tmp_path)
    dataset = build(root)
    (root / 'train' / 'B' / 'train_1.png').write_bytes(content)
    with pytest.raises(ValueError, match=r'B.train_1\.png'):
        dataset[0]


def test_reduce_zero_label_is_refused():
    with pytest.raises(ValueError, match='reduce_zero_label'):
        LEVIRCDDataset(reduce_zero_label=True, lazy_init=True)


def test_reads_every_split_of_the_synthetic_set(synthetic_levircd):
    for split, count in (('train', 16), ('val', 4), ('test', 4)):
        dataset = DATASETS.build(
            dict(
                type='mmzoo.LEVIRCDDataset',
                data_root=str(synthetic_levircd),
                data_prefix=dict(
                    img_path_a=f'{split}/A',
                    img_path_b=f'{split}/B',
                    seg_map_path=f'{split}/label'),
                pipeline=PIPELINE))
        assert len(dataset) == count
        gt = dataset[0]['data_samples'].gt_sem_seg.data
        assert set(gt.unique().tolist()) <= {0, 1}
