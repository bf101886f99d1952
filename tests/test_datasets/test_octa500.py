"""OCTA500Dataset reads OCTA-500's release layout through the shipped configs
and refuses inconsistent data, naming the file or the sheet's row."""
import csv

import cv2
import numpy as np
import pytest
from mmengine.config import Config
from mmengine.structures import PixelData
from mmzoo_testing import REPO
from openpyxl import Workbook, load_workbook
from PIL import Image

from mmzoo.registry import DATASETS, METRICS

pytestmark = pytest.mark.default_scope('mmzoo')

IMG_DIR = 'OCTA_6mm/Projection Maps/OCTA(ILM_OPL)'
HEADER = ['ID', 'Sex', 'OS/OD', 'Age', 'Disease']
PIPELINE = [
    dict(type='LoadImageFromFile', color_type='grayscale'),
    dict(type='mmzoo.LoadFAZAnnotation'),
    dict(type='mmzoo.PackOCTAInputs')
]


def split(config, name, data_root):
    cfg = Config.fromfile(f'{REPO}/configs/_base_/datasets/{config}.py')
    dataset = cfg[f'{name}_dataloader'].dataset
    dataset.data_root = str(data_root)
    # mmengine's serialisation runs a full gc.collect (0.4 s) per build.
    return DATASETS.build(dict(dataset, serialize_data=False))


@pytest.fixture(scope='module')
def sheet(synthetic_octa):
    """Subject -> disease, read from the workbook with openpyxl."""
    rows = load_workbook(synthetic_octa /
                         'OCTA_6mm/Text labels.xlsx').active.iter_rows(
                             min_row=2, values_only=True)
    return {row[0]: row[4] for row in rows}


def test_synthetic_config_splits_subjects(synthetic_octa, sheet):
    sizes = {}
    for name in ('train', 'val', 'test'):
        dataset = split('synthetic_octa', name, synthetic_octa)
        classes = dataset.metainfo['diagnosis_classes']
        assert classes == ('NORMAL', 'DR', 'AMD')
        assert dataset.metainfo['classes'] == ('background', 'FAZ')
        infos = [dataset.get_data_info(i) for i in range(len(dataset))]
        ids = [int(info['subject_id']) for info in infos]
        sizes[name] = (min(ids), max(ids), len(ids))
        for info in infos:
            subject = int(info['subject_id'])
            assert classes[info['gt_class']] == sheet[subject]
            assert info['img_path'] == str(synthetic_octa / IMG_DIR /
                                           f'{subject}.bmp')
            assert info['seg_map_path'] == str(
                synthetic_octa / 'Label/GT_FAZ' / f'{subject}.bmp')
            assert info['fov_mm'] == 6.0
            assert info['pixel_spacing'] == pytest.approx(6.0 / 96)
    assert sizes == dict(
        train=(10001, 10090, 90),
        val=(10091, 10105, 15),
        test=(10106, 10120, 15))


def test_test_pipeline_packs_grey_image_mask_and_class(synthetic_octa):
    dataset = split('synthetic_octa', 'test', synthetic_octa)
    info = dataset.get_data_info(0)
    data = dataset[0]
    inputs, sample = data['inputs'], data['data_samples']
    # PIL is the independent reader.
    image = np.asarray(Image.open(info['img_path']).convert('L'))
    mask = np.asarray(Image.open(info['seg_map_path']))
    assert inputs.shape == (1, 96, 96)
    np.testing.assert_array_equal(inputs[0].numpy(), image)
    np.testing.assert_array_equal(sample.gt_sem_seg.data[0].numpy(),
                                  mask // 255)
    assert int(sample.gt_class) == info['gt_class']
    assert sample.pixel_spacing == info['pixel_spacing']
    assert sample.ori_shape == (96, 96)
    assert sample.subject_id == info['subject_id']


def test_train_pipeline_adds_the_targets(synthetic_octa):
    dataset = split('synthetic_octa', 'train', synthetic_octa)
    sample = dataset[0]['data_samples']
    mask = sample.gt_sem_seg.data[0].numpy().astype(bool)
    sdm = sample.gt_sdm.data[0].numpy()
    heat = sample.gt_heatmap.data[0].numpy()
    assert sdm.shape == heat.shape == (96, 96)
    # Whatever the augmentation, the targets belong to the mask packed.
    assert (sdm[~mask] > 0).all() and (sdm[mask] <= 0).all()
    assert heat.max() == 1 and heat[mask].max() == 1


def test_3mm_config_reads_the_3mm_subjects(synthetic_octa):
    dataset = split('octa500_3mm', 'train', synthetic_octa)
    infos = [dataset.get_data_info(i) for i in range(len(dataset))]
    assert [i['subject_id']
            for i in infos] == [str(10301 + k) for k in range(6)]
    assert dataset.metainfo['diagnosis_classes'] == ('NORMAL', 'AMD', 'DR',
                                                     'CNV')
    assert all(i['pixel_spacing'] == pytest.approx(3.0 / 96) for i in infos)


def make_octa(root, rows, fmt='csv', size=(20, 20)):
    """A tiny OCTA_6mm layout: an image and a mask per row's subject."""
    (root / IMG_DIR).mkdir(parents=True)
    (root / 'Label/GT_FAZ').mkdir(parents=True)
    mask = np.zeros(size, np.uint8)
    mask[6:12, 7:13] = 255
    for row in rows:
        cv2.imwrite(
            str(root / IMG_DIR / f'{row[0]}.bmp'), np.full(size, 90, np.uint8))
        cv2.imwrite(str(root / 'Label/GT_FAZ' / f'{row[0]}.bmp'), mask)
    path = root / f'OCTA_6mm/Text labels.{fmt}'
    if fmt == 'csv':
        with open(path, 'w', newline='') as f:
            csv.writer(f).writerows([HEADER, *rows])
    else:
        workbook = Workbook()
        for row in [HEADER, *rows]:
            workbook.active.append(row)
        workbook.save(path)
    return root


ROWS = [[10001, 'M', 'OD', 50, 'NORMAL'], [10002, 'F', 'OS', 61, 'DR'],
        [10003, 'F', 'OD', 70, 'cnv ']]


def build(root, fmt='csv', **kwargs):
    return DATASETS.build(
        dict(
            type='mmzoo.OCTA500Dataset',
            data_root=str(root),
            label_sheet=f'OCTA_6mm/Text labels.{fmt}',
            pipeline=PIPELINE,
            serialize_data=False,
            **kwargs))


@pytest.mark.parametrize('fmt', ['csv', 'xlsx'])
def test_reads_either_sheet_format(tmp_path, fmt):
    dataset = build(make_octa(tmp_path, ROWS, fmt), fmt)
    # NORMAL, AMD, DR, CNV, ...: case and spaces in the sheet are ignored.
    assert [dataset.get_data_info(i)['gt_class']
            for i in range(3)] == [0, 2, 3]
    assert dataset.get_data_info(0)['pixel_spacing'] == pytest.approx(0.3)
    assert int(dataset[2]['data_samples'].gt_class) == 3


def test_subject_in_sheet_without_image_names_row_and_file(tmp_path):
    root = make_octa(tmp_path, ROWS)
    (root / IMG_DIR / '10002.bmp').unlink()
    with pytest.raises(
            FileNotFoundError,
            match=r'Text labels\.csv row 3: subject 10002 has no image: '
            r'.*10002\.bmp is missing'):
        build(root)


def test_image_without_sheet_row_names_the_file(tmp_path):
    root = make_octa(tmp_path, ROWS)
    cv2.imwrite(
        str(root / IMG_DIR / '10009.bmp'), np.zeros((20, 20), np.uint8))
    with pytest.raises(
            ValueError, match=r'10009\.bmp has no row in the label sheet'):
        build(root)


def test_unknown_class_name_names_the_row(tmp_path):
    rows = [*ROWS[:2], [10003, 'F', 'OD', 70, 'GLAUCOMA']]
    with pytest.raises(
            ValueError,
            match=r'Text labels\.xlsx row 4: unknown class name '
            r"'GLAUCOMA'"):
        build(make_octa(tmp_path, rows, 'xlsx'), 'xlsx')


def test_missing_mask_names_the_file(tmp_path):
    root = make_octa(tmp_path, ROWS)
    (root / 'Label/GT_FAZ/10001.bmp').unlink()
    with pytest.raises(
            FileNotFoundError, match=r'row 2: subject 10001 has no FAZ mask'):
        build(root)


def test_image_and_mask_of_different_sizes_name_both(tmp_path):
    root = make_octa(tmp_path, ROWS)
    cv2.imwrite(
        str(root / 'Label/GT_FAZ/10003.bmp'), np.zeros((20, 24), np.uint8))
    with pytest.raises(
            ValueError,
            match=r'10003\.bmp is 24x20 but its image .*10003\.bmp is '
            r'20x20'):
        build(root)


def test_mask_that_is_not_binary_names_the_file(tmp_path):
    root = make_octa(tmp_path, ROWS)
    mask = np.zeros((20, 20), np.uint8)
    mask[5:9, 5:9] = 200
    mask[7, 7] = 255
    cv2.imwrite(str(root / 'Label/GT_FAZ/10002.bmp'), mask)
    with pytest.raises(
            ValueError, match=r'GT_FAZ.10002\.bmp is not binary.*200'):
        build(root)


def test_image_that_cannot_be_read_names_the_file(tmp_path):
    root = make_octa(tmp_path, ROWS)
    (root / IMG_DIR / '10003.bmp').write_text('not an image')
    with pytest.raises(
            ValueError,
            match=r'could not read the image .*10003\.bmp \(12 bytes\)'):
        build(root)


def test_sheet_that_is_not_a_workbook_names_the_file(tmp_path):
    root = make_octa(tmp_path, ROWS, 'xlsx')
    (root / 'OCTA_6mm/Text labels.xlsx').write_text('ID,Disease\n')
    with pytest.raises(
            ValueError,
            match=r'could not read the label sheet .*Text labels\.xlsx'):
        build(root, 'xlsx')


def test_sheet_without_header_names_the_file(tmp_path):
    root = make_octa(tmp_path, ROWS)
    (root / 'OCTA_6mm/Text labels.csv').write_text('10001,NORMAL\n')
    with pytest.raises(
            ValueError,
            match=r"Text labels\.csv has no header row naming the columns "
            r"'ID' and 'Disease'"):
        build(root)


def test_subject_range_selects_and_must_select(tmp_path):
    root = make_octa(tmp_path, ROWS)
    assert len(build(root, subjects=(10002, 10003))) == 2
    with pytest.raises(ValueError, match='no subjects with IDs 10100-10200'):
        build(root, subjects=(10100, 10200))


def test_samples_feed_the_octa_metric(synthetic_octa):
    """The packed samples carry what OCTAMetric reads (masks, classes, pixel
    spacing, class names): a perfect prediction scores perfectly."""
    dataset = split('synthetic_octa', 'test', synthetic_octa)
    metric = METRICS.build(dict(type='mmzoo.OCTAMetric'))
    metric.dataset_meta = dataset.metainfo
    for index in range(3):
        sample = dataset[index]['data_samples']
        sample.pred_sem_seg = PixelData(data=sample.gt_sem_seg.data.clone())
        sample.pred_class = sample.gt_class.clone()
        metric.process({}, [sample.to_dict()])
    scores = metric.evaluate(3)
    assert scores['Dice'] == 100 and scores['accuracy'] == 100
    assert scores['HD95'] == 0 and scores['ASSD'] == 0
