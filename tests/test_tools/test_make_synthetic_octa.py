"""make_synthetic_octa.py writes OCTA-500's (and a FAZID-style) layout,
deterministically, with diagnoses that differ in FAZ and vessel density."""
import csv
import runpy

import cv2
import numpy as np
import pytest
from mmzoo_testing import REPO
from openpyxl import load_workbook
from scipy import ndimage

from mmzoo.utils.synthetic import image_rng

TOOL = f'{REPO}/tools/dataset_converters/make_synthetic_octa.py'
ARGS = ['--num-6mm', '4', '--num-3mm', '2', '--size', '64']
PROJECTION = 'Projection Maps/OCTA(ILM_OPL)'


def read_tree(root):
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob('*')) if p.is_file()
    }


@pytest.fixture(scope='module')
def tool():
    return runpy.run_path(TOOL)


@pytest.fixture(scope='module')
def written(tool, tmp_path_factory):
    out = tmp_path_factory.mktemp('octa') / 'data'
    tool['main']([str(out), *ARGS])
    return out


def test_octa500_layout_and_label_sheet(synthetic_octa):
    """The session fixture's set, written by the script run as a user runs
    it: 120 6 mm and six 3 mm subjects at 96 x 96."""
    six = [f'{10001 + i}' for i in range(120)]
    three = [f'{10301 + i}' for i in range(6)]
    expected = ({f'OCTA_6mm/{PROJECTION}/{s}.bmp'
                 for s in six}
                | {f'OCTA_3mm/{PROJECTION}/{s}.bmp'
                   for s in three}
                | {f'Label/GT_FAZ/{s}.bmp'
                   for s in six + three}
                | {'OCTA_6mm/Text labels.xlsx', 'OCTA_3mm/Text labels.xlsx'})
    assert set(read_tree(synthetic_octa)) == expected
    for subject in six[:3] + three[:3]:
        fov = '6mm' if subject in six else '3mm'
        image = cv2.imread(
            str(synthetic_octa / f'OCTA_{fov}' / PROJECTION /
                f'{subject}.bmp'), cv2.IMREAD_UNCHANGED)
        mask = cv2.imread(
            str(synthetic_octa / 'Label/GT_FAZ' / f'{subject}.bmp'),
            cv2.IMREAD_UNCHANGED)
        assert image.shape == mask.shape == (96, 96)
        assert image.dtype == mask.dtype == np.uint8
        assert set(np.unique(mask).tolist()) == {0, 255}
    sheet = load_workbook(synthetic_octa / 'OCTA_6mm/Text labels.xlsx').active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == ('ID', 'Sex', 'OS/OD', 'Age', 'Disease')
    assert [row[0] for row in rows[1:]] == [int(s) for s in six]
    # Subjects cycle through the diagnoses.
    assert [row[4] for row in rows[1:]] == ['NORMAL', 'DR', 'AMD'] * 40
    assert {row[1] for row in rows[1:]} == {'M', 'F'}
    assert {row[2] for row in rows[1:]} == {'OD', 'OS'}


def test_same_seed_same_bytes_other_seed_other_bytes(written, tool, tmp_path):
    assert len(read_tree(written)) == 2 * 6 + 2  # images, masks, sheets
    tool['main']([str(tmp_path / 'again'), *ARGS])
    assert read_tree(tmp_path / 'again') == read_tree(written)
    tool['main']([str(tmp_path / 'other'), *ARGS, '--seed', '1'])
    other = read_tree(tmp_path / 'other')
    assert other.keys() == read_tree(written).keys()
    name = f'OCTA_6mm/{PROJECTION}/10001.bmp'
    assert other[name] != read_tree(written)[name]


def test_csv_sheet_holds_the_same_table(tool, written, tmp_path):
    out = tmp_path / 'csv'
    tool['main']([str(out), *ARGS, '--sheet-format', 'csv'])
    with open(out / 'OCTA_3mm/Text labels.csv', newline='') as f:
        rows = list(csv.reader(f))
    workbook = load_workbook(written / 'OCTA_3mm/Text labels.xlsx').active
    expected = [[str(cell) for cell in row]
                for row in workbook.iter_rows(values_only=True)]
    assert rows == expected
    assert not (out / 'OCTA_3mm/Text labels.xlsx').exists()


def test_fazid_layout(tool, tmp_path):
    tool['main']([
        str(tmp_path), '--layout', 'fazid', '--num-train', '4', '--num-val',
        '0', '--num-test', '2', '--size', '48'
    ])
    names = {
        f'{d}/{c}/{i}.png'
        for d in ('image', 'mask')
        for c, i in (('Normal', 1), ('Diabetic', 2), ('Myopic', 3), ('Normal',
                                                                     4))
    }
    assert set(read_tree(tmp_path / 'train')) == names
    assert set(read_tree(tmp_path / 'test')) == {
        n
        for n in names if n.endswith(('1.png', '2.png'))
    }
    mask = cv2.imread(
        str(tmp_path / 'train/mask/Myopic/3.png'), cv2.IMREAD_UNCHANGED)
    assert mask.shape == (48, 48) and set(np.unique(mask)) == {0, 255}


@pytest.fixture(scope='module')
def eyes(tool):
    """Eight eyes per diagnosis as the tests' fixture draws them (6 mm, 96 x
    96): (image, FAZ mask)."""
    return {
        diagnosis.octa500: [
            tool['make_eye'](image_rng(0, '6mm', 10001 + 3 * i + k), diagnosis,
                             96, 6.0) for i in range(8)
        ]
        for k, diagnosis in enumerate(tool['DIAGNOSES'])
    }


def distance_to_faz(mask):
    return ndimage.distance_transform_edt(mask == 0)


def test_faz_is_darker_than_the_vessels_around_it(eyes):
    for image, mask in sum(eyes.values(), []):
        ring = (distance_to_faz(mask) > 0) & (distance_to_faz(mask) <= 3)
        assert image[mask > 0].mean() < 0.7 * image[ring].mean()


def test_diagnoses_differ_in_faz_and_capillary_dropout(eyes):
    area = {k: [(m > 0).mean() for _, m in v] for k, v in eyes.items()}
    assert (np.mean(area['DR']) > np.mean(area['NORMAL']) > np.mean(
        area['AMD']))
    # Area alone does not tell the classes apart: neighbours overlap.
    assert max(area['NORMAL']) > min(area['DR'])
    assert max(area['AMD']) > min(area['NORMAL'])

    def dropout(image, mask):
        """Fraction of the retina away from the FAZ in dark patches: the
        smoothed image below 0.4 of its 90th percentile."""
        smooth = ndimage.gaussian_filter(image.astype(float), 2)
        retina = smooth[distance_to_faz(mask) > 4]
        return (retina < 0.4 * np.percentile(retina, 90)).mean()

    loss = {k: [dropout(*eye) for eye in v] for k, v in eyes.items()}
    assert np.mean(loss['DR']) > 2 * np.mean(loss['AMD'])
    assert np.mean(loss['AMD']) > 2 * np.mean(loss['NORMAL'])


@pytest.mark.parametrize(
    'extra, message', [([], 'not empty'), (['--size', '40'], 'at least 48')],
    ids=['non-empty output', 'size too small'])
def test_refuses_bad_arguments(written, tool, capsys, extra, message):
    with pytest.raises(SystemExit):
        tool['main']([str(written), *ARGS, *extra])
    assert message in capsys.readouterr().err
