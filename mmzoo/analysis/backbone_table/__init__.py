"""The backbone table: every mmzoo ImageNet classifier measured beside the same
architecture built from mmpretrain.

``measure`` counts, times and weighs one model; ``compare`` builds mmpretrain's
counterpart of a backbone and judges the ratios; ``record`` keeps the measured
rows and runs as JSON; ``render`` writes the Markdown page.
``tools/analysis_tools/backbone_table.py`` is the command line.
"""
from .compare import (architecture_notes, baseline_model_cfg,
                      load_throughput_goal, throughput_ratio)
from .measure import (Measures, build, count_macs, count_params, find_configs,
                      load_model_cfg, peak_memory_mib, time_interleaved)
from .record import Row, Run, load_record, merge_with_record, save_record
from .render import format_table, goal_lines, render_doc

__all__ = [
    'Measures', 'build', 'count_macs', 'count_params', 'find_configs',
    'load_model_cfg', 'peak_memory_mib', 'time_interleaved',
    'architecture_notes', 'baseline_model_cfg', 'load_throughput_goal',
    'throughput_ratio', 'Row', 'Run', 'load_record', 'merge_with_record',
    'save_record', 'format_table', 'goal_lines', 'render_doc'
]
