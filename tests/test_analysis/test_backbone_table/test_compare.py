"""The throughput goal file: a bad one is named with its fault."""
import pytest

from mmzoo.analysis.backbone_table import load_throughput_goal


@pytest.mark.parametrize('text, fault', [
    ('throughput: 1.0\n', 'throughput_ratio'),
    ('throughput_ratio: fast\n', 'positive number'),
    ('throughput_ratio: 0\n', 'positive number'),
])
def test_a_bad_goal_file_is_named(tmp_path, text, fault):
    path = tmp_path / 'goal.yml'
    path.write_text(text)
    with pytest.raises(ValueError, match=fault) as error:
        load_throughput_goal(str(path))
    assert str(path) in str(error.value)
