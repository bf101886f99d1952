"""The measurements behind the page, kept beside it as JSON, so that a later
run can measure one new family and keep the rows of earlier runs."""
import json
import os.path as osp
from dataclasses import asdict, dataclass
from typing import List, Optional, Tuple

from mmzoo.utils.fileio import atomic_write_bytes
from .measure import Measures, natural_key


@dataclass
class Row:
    name: str
    config: str
    ours: Measures
    theirs: Optional[Measures]
    notes: List[str]
    run: int = 0  # index into the runs the page records

    @classmethod
    def from_dict(cls, record: dict) -> 'Row':
        theirs = record['theirs']
        return cls(**dict(
            record,
            ours=Measures(**record['ours']),
            theirs=theirs and Measures(**theirs)))


@dataclass
class Run:
    """One invocation of the tool: where and how its rows were measured."""
    command: str
    started: str
    minutes: float
    machine: List[str]
    batch: int
    repeats: int
    speed: bool


def record_path(doc_path: str) -> str:
    """``backbones.md`` -> ``backbones.json``."""
    return osp.splitext(doc_path)[0] + '.json'


def load_record(path: str) -> Tuple[List[Row], List[Run]]:
    """The rows and runs saved at ``path`` by :func:`save_record`."""
    with open(path, encoding='utf-8') as f:
        try:
            record = json.load(f)
        except json.JSONDecodeError as error:
            raise ValueError(f'{path}: not JSON ({error})')
    try:
        runs = [Run(**run) for run in record['runs']]
        rows = [Row.from_dict(row) for row in record['rows']]
    except (KeyError, TypeError) as error:
        raise ValueError(f'{path}: not a backbone-table record ({error!r})')
    if not runs or any(not 0 <= row.run < len(runs) for row in rows):
        raise ValueError(f'{path}: a row names a run the record lacks')
    return rows, runs


def save_record(rows: List[Row], runs: List[Run], path: str) -> None:
    record = dict(
        runs=[asdict(r) for r in runs], rows=[asdict(r) for r in rows])
    atomic_write_bytes(json.dumps(record, indent=1).encode(), path)


def merge_with_record(rows: List[Row], run: Run, kept_rows: List[Row],
                      kept_runs: List[Run]) -> Tuple[List[Row], List[Run]]:
    """Earlier rows and runs with this run's rows in place of the ones it
    measured again."""
    measured = {row.name for row in rows}
    kept = [r for r in kept_rows if r.name not in measured]
    # Drop the runs none of whose rows are left, renumbering the rest.
    used = sorted({r.run for r in kept})
    renumber = {old: new for new, old in enumerate(used)}
    for row in kept:
        row.run = renumber[row.run]
    runs = [kept_runs[i] for i in used] + [run]
    for row in rows:
        row.run = len(runs) - 1
    merged = sorted(kept + rows, key=lambda r: natural_key(r.config))
    return merged, runs
