"""make_synthetic_levircd.py writes LEVIR-CD's layout, deterministically, with
changes a model must learn and nuisances pixel differencing falls for."""
import runpy

import cv2
import numpy as np
import pytest
from mmzoo_testing import REPO, run_tool

from mmzoo.utils.synthetic import image_rng

TOOL = f'{REPO}/tools/dataset_converters/make_synthetic_levircd.py'
ARGS = [
    '--num-train', '3', '--num-val', '1', '--num-test', '2', '--size', '64'
]
COUNTS = dict(train=3, val=1, test=2)


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
    out = tmp_path_factory.mktemp('levircd') / 'data'
    result = run_tool(TOOL, out, *ARGS)
    assert str(out) in result.stdout
    return out


def test_layout_names_and_label_coding(written):
    expected = {
        f'{split}/{folder}/{split}_{i}.png'
        for split, n in COUNTS.items()
        for i in range(1, n + 1)
        for folder in ('A', 'B', 'label')
    }
    assert set(read_tree(written)) == expected
    for split, n in COUNTS.items():
        for i in range(1, n + 1):
            name = f'{split}_{i}.png'
            a = cv2.imread(
                str(written / split / 'A' / name), cv2.IMREAD_UNCHANGED)
            b = cv2.imread(
                str(written / split / 'B' / name), cv2.IMREAD_UNCHANGED)
            label = cv2.imread(
                str(written / split / 'label' / name), cv2.IMREAD_UNCHANGED)
            assert a.shape == b.shape == (64, 64, 3)
            assert label.shape == (64, 64) and label.dtype == np.uint8
            assert set(np.unique(label).tolist()) <= {0, 255}


def test_same_seed_same_bytes_other_seed_other_bytes(written, tool, tmp_path):
    tool['main']([str(tmp_path / 'again'), *ARGS])
    assert read_tree(tmp_path / 'again') == read_tree(written)
    tool['main']([str(tmp_path / 'other'), *ARGS, '--seed', '1'])
    other = read_tree(tmp_path / 'other')
    assert other.keys() == read_tree(written).keys()
    assert other['train/A/train_1.png'] != read_tree(
        written)['train/A/train_1.png']


def test_refuses_a_non_empty_output(written, tool, capsys):
    with pytest.raises(SystemExit):
        tool['main']([str(written), *ARGS])
    assert 'not empty' in capsys.readouterr().err


@pytest.fixture(scope='module')
def pairs(tool):
    return [
        tool['make_pair'](image_rng(0, 'test', i), 128) for i in range(1, 9)
    ]


def test_buildings_change_in_most_pairs(pairs):
    fractions = [(label > 0).mean() for _, _, label in pairs]
    assert sum(f > 0 for f in fractions) >= 5
    # About LEVIR-CD's few percent of changed pixels, not a flood.
    assert 0.005 < np.mean(fractions) < 0.15


def test_dates_differ_in_illumination_and_registration(pairs):
    ratios, shifts = [], []
    for a, b, label in pairs:
        grey_a = cv2.cvtColor(a, cv2.COLOR_RGB2GRAY).astype(np.float64)
        grey_b = cv2.cvtColor(b, cv2.COLOR_RGB2GRAY).astype(np.float64)
        unchanged = label == 0
        ratios.append(grey_a[unchanged].mean() / grey_b[unchanged].mean())
        # Phase correlation measures the misregistration of date A.
        (dx, dy), _ = cv2.phaseCorrelate(grey_a, grey_b)
        shifts.append(np.hypot(dx, dy))
    assert np.std(np.log(ratios)) > 0.08
    assert all(0.5 < s < 2.6 for s in shifts), shifts


def test_pixel_differencing_cannot_find_the_changes(pairs):
    """The best threshold on |A - B| stays far below a usable F1: the
    nuisances differ from date to date as much as the buildings do."""
    diff = np.concatenate([
        np.abs(a.astype(np.float64) - b).mean(2).ravel() for a, b, _ in pairs
    ])
    changed = np.concatenate([label.ravel() > 0 for _, _, label in pairs])
    best = 0.0
    for threshold in np.percentile(diff, np.linspace(50, 99.9, 100)):
        predicted = diff > threshold
        hits = (predicted & changed).sum()
        best = max(best, 2 * hits / (predicted.sum() + changed.sum()))
    assert best < 0.6
