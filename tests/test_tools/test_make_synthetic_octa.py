"""make_synthetic_octa.py writes OCTA-500's (and a FAZID-style) layout,
deterministically, with diagnoses that differ in FAZ and vessel density."""
import runpy

import cv2
import numpy as np
import pytest
from mmzoo_testing import REPO, run_tool
from openpyxl import load_workbook

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
def written(tmp_path_factory):
    out = tmp_path_factory.mktemp('octa') / 'data'
    result = run_tool(TOOL, out, *ARGS)
    assert str(out) in result.stdout
    return out


def test_octa500_layout_and_label_sheet(written):
    six = [f'{10001 + i}' for i in range(4)]
    three = ['10301', '10302']
    expected = ({f'OCTA_6mm/{PROJECTION}/{s}.bmp'
                 for s in six}
                | {f'OCTA_3mm/{PROJECTION}/{s}.bmp'
                   for s in three}
                | {f'Label/GT_FAZ/{s}.bmp'
                   for s in six + three}
                | {'OCTA_6mm/Text labels.xlsx', 'OCTA_3mm/Text labels.xlsx'})
    assert set(read_tree(written)) == expected
    for subject in six + three:
        fov = '6mm' if subject in six else '3mm'
        image = cv2.imread(
            str(written / f'OCTA_{fov}' / PROJECTION / f'{subject}.bmp'),
            cv2.IMREAD_UNCHANGED)
        mask = cv2.imread(
            str(written / 'Label/GT_FAZ' / f'{subject}.bmp'),
            cv2.IMREAD_UNCHANGED)
        assert image.shape == mask.shape == (64, 64)
        assert set(np.unique(mask).tolist()) == {0, 255}
    sheet = load_workbook(written / 'OCTA_6mm/Text labels.xlsx').active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == ('ID', 'Sex', 'OS/OD', 'Age', 'Disease')
    assert [row[0] for row in rows[1:]] == [int(s) for s in six]
    assert [row[4] for row in rows[1:]] == ['NORMAL', 'DR', 'AMD', 'NORMAL']


def test_same_seed_same_bytes_other_seed_other_bytes(written, tool, tmp_path):
    tool['main']([str(tmp_path / 'again'), *ARGS])
    assert read_tree(tmp_path / 'again') == read_tree(written)
    tool['main']([str(tmp_path / 'other'), *ARGS, '--seed', '1'])
    other = read_tree(tmp_path / 'other')
    assert other.keys() == read_tree(written).keys()
    name = f'OCTA_6mm/{PROJECTION}/10001.bmp'
    assert other[name] != read_tree(written)[name]
