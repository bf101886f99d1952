"""ablation.py --quick writes a well-formed table between the README's markers,
leaves the rest of the README alone, and its parameter columns agree with the
models its configs build."""
import importlib.util
import os.path as osp
import re
import shutil

import pytest
from mmengine.config import Config
from mmzoo_testing import REPO, num_params

import projects.res2decoder.res2decoder  # noqa: F401 (registers)
from mmzoo.registry import MODELS

PROJECT = osp.join(REPO, 'projects', 'res2decoder')


def load_ablation():
    spec = importlib.util.spec_from_file_location(
        'res2decoder_ablation', osp.join(PROJECT, 'tools', 'ablation.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


ablation = load_ablation()
HEADER = ['seeds', 'params (M)', 'model params (M)', 'GFLOPs', 'CPU img/s']


def table_rows(text):
    """The table lines between the markers, as lists of cells."""
    block = text.split(ablation.START)[1].split(ablation.END)[0]
    return [[c.strip() for c in line.strip('|').split('|')]
            for line in block.splitlines() if line.startswith('|')]


def test_quick_run_writes_the_table(tmp_path):
    # One row of the grid keeps the test short; the layout of both tasks'
    # tables is checked on given results below.
    config = f'res2head-attn-32w4s_{ablation.SEG}'
    readme = tmp_path / 'README.md'
    shutil.copy(osp.join(PROJECT, 'README.md'), readme)
    before = readme.read_text()
    ablation.main(['--quick', '--readme', str(readme), '--rows', config])
    after = readme.read_text()
    assert after.split(ablation.START)[0] == before.split(ablation.START)[0]
    assert after.split(ablation.END)[1] == before.split(ablation.END)[1]
    assert 'Quick run' in after.split(ablation.START)[1]

    rows = table_rows(after)
    assert len(rows) == 3
    assert rows[0] == ['head', 'mIoU (%)', HEADER[0], 'head params (M)'
                       ] + HEADER[2:]
    assert rows[1] == ['---'] * 7
    cells = rows[2]
    assert cells[0] == 'Res2Head 32w4s, attention'
    assert 0 <= float(cells[1]) <= 100  # one seed: no ± std
    assert cells[2] == '1'
    model = MODELS.build(
        Config.fromfile(osp.join(PROJECT, 'configs', f'{config}.py')).model)
    assert float(cells[3]) == round(num_params(model.decode_head) / 1e6, 3)
    assert float(cells[4]) == round(num_params(model) / 1e6, 3)
    assert float(cells[5]) > 0 and float(cells[6]) > 0


def test_table_of_both_tasks():
    results = [
        dict(
            task=task,
            name=name,
            scores=scores,
            part_params=1234567,
            params=7654321,
            flops=2.5e9,
            images_per_s=12.34)
        for task, name, scores in (('seg', 'A', [40.0, 42.0]),
                                   ('cd', 'B', [80.0, 81.0, 85.0]))
    ]
    rows = table_rows(f'{ablation.START}\n'
                      f"{ablation.format_table(results, 'settings')}"
                      f'{ablation.END}')
    assert rows == [
        ['head', 'mIoU (%)', HEADER[0], 'head params (M)'] + HEADER[2:],
        ['---'] * 7,
        ['A', '41.00 ± 1.41', '2', '1.235', '7.654', '2.500', '12.3'],
        ['neck', 'F1 (%)', HEADER[0], 'neck params (M)'] + HEADER[2:],
        ['---'] * 7,
        ['B', '82.00 ± 2.65', '3', '1.235', '7.654', '2.500', '12.3'],
    ]


def test_mean_and_sample_std():
    # Sample standard deviation of 1, 2, 3 is 1.
    assert ablation.mean_std([1.0, 2.0, 3.0]) == '2.00 ± 1.00'
    assert re.fullmatch(r'\d+\.\d\d', ablation.mean_std([5.0]))


def test_grid_configs_exist_and_rows_are_checked(tmp_path):
    for _, _, config in ablation.ROWS:
        assert osp.isfile(osp.join(PROJECT, 'configs', f'{config}.py'))
    readme = tmp_path / 'README.md'
    readme.write_text('no markers\n')
    with pytest.raises(ValueError, match='ablation-table:start'):
        ablation.write_readme(readme, '| table |\n')
    shutil.copy(osp.join(PROJECT, 'README.md'), readme)
    with pytest.raises(SystemExit):
        ablation.main(['--quick', '--readme', str(readme), '--rows', 'x'])
