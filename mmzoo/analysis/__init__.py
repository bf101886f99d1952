"""Measurements behind the generated pages of ``docs/en/benchmarks``.

Each page has a thin command line in ``tools/analysis_tools`` that parses its
arguments and calls the code here.
"""
