"""backbone_table: its counts agree with the published ones."""
import json
import os.path as osp
import re
import shutil
import statistics

import pytest
import yaml
from mmzoo_testing import (REPO, classifier_configs, metafile_entry,
                           published_params, run_tool, variant)

TOOL = 'tools/analysis_tools/backbone_table.py'
DOC = osp.join(REPO, 'docs', 'en', 'benchmarks', 'backbones.md')
RECORD = osp.join(REPO, 'docs', 'en', 'benchmarks', 'backbones.json')
GOAL_FILE = osp.join(REPO, 'docs', 'en', 'benchmarks', 'backbones_goal.yml')

# The table's variants: the ImageNet classifiers, whose published figures
# their metafiles state.
CLASSIFIERS = {variant(c): c for c in classifier_configs('*')}


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
    run_tool(
        TOOL,
        '--skip-speed',
        '--only',
        'res2net50-26w4s',
        '--out',
        out,
        timeout=120)
    doc = out.read_text()
    assert 'MACs' in doc and 'do not edit by hand' in doc
    rows = read_table(doc)
    assert list(rows) == ['res2net50-26w4s']
    row = rows['res2net50-26w4s']
    published = metafile_entry(CLASSIFIERS['res2net50-26w4s'])['Metadata']
    # The official README's figures: millions of parameters to two
    # decimals, and "FLOPs" that count multiply-adds.
    assert float(row['params (M)']) == published['Parameters'] / 1e6
    # mmpretrain's Res2Net is the same network.
    assert row['params (M), mmpretrain'] == row['params (M)']
    macs = float(row['GMACs'])
    assert abs(macs / (published['FLOPs'] / 1e9) - 1) < 0.05, macs


@pytest.mark.skipif(not osp.exists(DOC), reason='no generated table yet')
def test_committed_table_has_the_published_counts():
    rows = read_table(open(DOC, encoding='utf-8').read())
    expected = {
        name: published_params(config) / 1e6
        for name, config in CLASSIFIERS.items()
    }
    missing = sorted(set(expected) - set(rows))
    assert not missing, f'{DOC} lacks {missing}: run {TOOL} again'
    wrong = {
        name: (rows[name]['params (M)'], f'{params:.2f}')
        for name, params in expected.items()
        if float(rows[name]['params (M)']) != round(params, 2)
    }
    assert not wrong, f'(table, published) parameters in M: {wrong}'


def test_update_replaces_only_the_measured_rows(tmp_path):
    out = tmp_path / 'backbones.md'
    run_tool(
        TOOL, '--skip-speed', '--only', 'resnext50', '--out', out, timeout=120)
    first = read_table(out.read_text())
    run_tool(
        TOOL,
        '--skip-speed',
        '--only',
        'res2net50-26w4s',
        '--out',
        out,
        '--update',
        timeout=120)
    doc = out.read_text()
    rows = read_table(doc)
    assert list(rows) == ['res2net50-26w4s', 'resnext50-32x4d']
    assert rows['resnext50-32x4d'] == first['resnext50-32x4d']
    assert 'Produced by 2 runs' in doc
    # Measuring a row again replaces it, and the run no row needs any more
    # leaves the page.
    run_tool(
        TOOL,
        '--skip-speed',
        '--only',
        'resnext50',
        '--out',
        out,
        '--update',
        timeout=120)
    doc = out.read_text()
    assert list(read_table(doc)) == ['res2net50-26w4s', 'resnext50-32x4d']
    assert 'Produced by 2 runs' in doc and '--only resnext50 --out' in doc


def test_update_needs_the_record_of_a_first_run(tmp_path):
    out = tmp_path / 'backbones.md'
    result = run_tool(
        TOOL,
        '--skip-speed',
        '--only',
        'resnext50',
        '--out',
        out,
        '--update',
        check=False,
        timeout=120)
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

    missing = {
        row['name']
        for row in record['rows']
        if row['theirs'] and images_per_second(row['ours']) /
        images_per_second(row['theirs']) < goal
    }
    assert set(re.findall(r'^- `([^`]+)`: ', doc, re.M)) == missing
    with open(DOC, encoding='utf-8') as f:
        assert doc == f.read(), (
            f'{DOC} is not what its record and {GOAL_FILE} give: run '
            f'{TOOL} --render-only')


def test_render_only_needs_the_record(tmp_path):
    result = run_tool(
        TOOL,
        '--render-only',
        '--out',
        tmp_path / 'x.md',
        check=False,
        timeout=120)
    assert result.returncode != 0 and 'does not exist' in result.stderr
