"""backbone_table: its counts agree with the published ones."""
import glob
import json
import os.path as osp
import re
import shutil
import statistics

import pytest
import yaml
from mmzoo_testing import REPO, run_tool

TOOL = 'tools/analysis_tools/backbone_table.py'
DOC = osp.join(REPO, 'docs', 'en', 'benchmarks', 'backbones.md')
RECORD = osp.join(REPO, 'docs', 'en', 'benchmarks', 'backbones.json')
GOAL_FILE = osp.join(REPO, 'docs', 'en', 'benchmarks', 'backbones_goal.yml')

# Parameters of the ImageNet classifiers, in millions as the sources round
# them (../shared/PUBLISHED.md): Res2Net from github
# Res2Net/Res2Net-PretrainedModels, ResNeXt exact from torchvision, ResNeSt
# from timm's ports.
PUBLISHED_PARAMS_M = {
    'res2net50-26w4s': 25.70,
    'res2net50-48w2s': 25.29,
    'res2net50-14w8s': 25.06,
    'res2net50-26w6s': 37.05,
    'res2net50-26w8s': 48.40,
    'res2net101-26w4s': 45.21,
    'res2next50-4w8g4s': 24.67,
    'res2net50-v1b-26w4s': 25.72,
    'res2net101-v1b-26w4s': 45.23,
    'resnext50-32x4d': 25_028_904 / 1e6,
    'resnext101-32x8d': 88_791_336 / 1e6,
    'resnext101-64x4d': 83_455_272 / 1e6,
    'resnest50': 27.48,
    'resnest101': 48.28,
    'resnest200': 70.20,
    'resnest269': 110.93,
}
RES2NET50_MACS_G = 4.2  # official README, "FLOPs" counted as MACs


def read_table(markdown: str) -> dict:
    """{variant: {column: cell}} from the tool's Markdown table."""
    lines = [line for line in markdown.splitlines() if line.startswith('|')]
    header = [cell.strip() for cell in lines[0].strip('|').split('|')]
    rows = {}
    for line in lines[2:]:
        cells = [cell.strip() for cell in line.strip('|').split('|')]
        rows[cells[0].strip('`')] = dict(zip(header, cells))
    return rows


def test_counts_match_the_official_res2net(tmp_path):
    out = tmp_path / 'backbones.md'
    run_tool(TOOL, '--skip-speed', '--only', 'res2net50-26w4s',
             '--out', out, timeout=120)
    doc = out.read_text()
    assert 'MACs' in doc and 'do not edit by hand' in doc
    rows = read_table(doc)
    assert list(rows) == ['res2net50-26w4s']
    row = rows['res2net50-26w4s']
    assert float(row['params (M)']) == PUBLISHED_PARAMS_M['res2net50-26w4s']
    # mmpretrain's Res2Net is the same network.
    assert row['params (M), mmpretrain'] == row['params (M)']
    macs = float(row['GMACs'])
    assert abs(macs / RES2NET50_MACS_G - 1) < 0.05, macs


def configured_variants() -> set:
    configs = glob.glob(osp.join(REPO, 'configs', '*', '*_in1k.py'))
    return {osp.basename(c).split('_')[0] for c in configs}


@pytest.mark.skipif(not osp.exists(DOC), reason='no generated table yet')
def test_committed_table_has_the_published_counts():
    rows = read_table(open(DOC, encoding='utf-8').read())
    expected = {name: params for name, params in PUBLISHED_PARAMS_M.items()
                if name in configured_variants()}
    missing = sorted(set(expected) - set(rows))
    assert not missing, f'{DOC} lacks {missing}: run {TOOL} again'
    wrong = {name: (rows[name]['params (M)'], f'{params:.2f}')
             for name, params in expected.items()
             if float(rows[name]['params (M)']) != round(params, 2)}
    assert not wrong, f'(table, published) parameters in M: {wrong}'


def test_update_replaces_only_the_measured_rows(tmp_path):
    out = tmp_path / 'backbones.md'
    run_tool(TOOL, '--skip-speed', '--only', 'resnext50', '--out', out,
             timeout=120)
    first = read_table(out.read_text())
    run_tool(TOOL, '--skip-speed', '--only', 'res2net50-26w4s', '--out',
             out, '--update', timeout=120)
    doc = out.read_text()
    rows = read_table(doc)
    assert list(rows) == ['res2net50-26w4s', 'resnext50-32x4d']
    assert rows['resnext50-32x4d'] == first['resnext50-32x4d']
    assert 'Produced by 2 runs' in doc
    # Measuring a row again replaces it, and the run no row needs any more
    # leaves the page.
    run_tool(TOOL, '--skip-speed', '--only', 'resnext50', '--out', out,
             '--update', timeout=120)
    doc = out.read_text()
    assert list(read_table(doc)) == ['res2net50-26w4s', 'resnext50-32x4d']
    assert 'Produced by 2 runs' in doc and '--only resnext50 --out' in doc


def test_update_needs_the_record_of_a_first_run(tmp_path):
    out = tmp_path / 'backbones.md'
    result = run_tool(TOOL, '--skip-speed', '--only', 'resnext50', '--out',
                      out, '--update', check=False, timeout=120)
    assert result.returncode != 0 and 'does not exist' in result.stderr


@pytest.mark.skipif(not osp.exists(RECORD), reason='no generated table yet')
def test_render_only_checks_the_goal_of_the_goal_file(tmp_path):
    shutil.copy(RECORD, tmp_path / 'backbones.json')
    out = tmp_path / 'backbones.md'
    run_tool(TOOL, '--render-only', '--out', out, timeout=120)
    doc = out.read_text(encoding='utf-8')
    with open(GOAL_FILE) as f:
        goal = yaml.safe_load(f)['throughput_ratio']
    assert f'## Goal: throughput ratio ≥ {goal}' in doc
    with open(RECORD) as f:
        record = json.load(f)
    assert list(read_table(doc)) == [row['name'] for row in record['rows']]
    # The rows that miss the goal, worked out here from the seconds.
    batch = record['runs'][0]['batch']

    def images_per_second(measures):
        return batch / statistics.median(measures['seconds'])

    missing = {row['name'] for row in record['rows'] if row['theirs'] and
               images_per_second(row['ours']) /
               images_per_second(row['theirs']) < goal}
    assert set(re.findall(r'^- `([^`]+)`: ', doc, re.M)) == missing
    with open(DOC, encoding='utf-8') as f:
        assert doc == f.read(), (
            f'{DOC} is not what its record and {GOAL_FILE} give: run '
            f'{TOOL} --render-only')


def test_render_only_needs_the_record(tmp_path):
    result = run_tool(TOOL, '--render-only', '--out', tmp_path / 'x.md',
                      check=False, timeout=120)
    assert result.returncode != 0 and 'does not exist' in result.stderr
