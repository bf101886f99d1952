"""What the folder-inference command lines (``tools/infer_*.py``) share:

their argument parser, loading the model of a config and checkpoint, the
config's test pipeline for unlabelled images, and PNG and CSV bytes for
:func:`mmzoo.utils.fileio.atomic_write_bytes`.
"""
import argparse
import csv
import io
from typing import Iterable, List, Optional, Sequence, Tuple

import cv2
import numpy as np
import torch
from mmengine.config import Config, DictAction
from mmengine.dataset import Compose
from mmengine.registry import init_default_scope

from mmzoo.engine import (CheckpointError, UnsafeCheckpointError, init_model,
                          install_checkpoint_safety)


class InputError(Exception):
    """Bad input, reported without a traceback."""


def inference_parser(doc: str) -> argparse.ArgumentParser:
    """A parser whose ``--help`` shows a tool's docstring ``doc`` (its first
    paragraph, then the rest), with the ``--device`` and ``--cfg-options``
    every inference tool takes."""
    parser = argparse.ArgumentParser(
        description=doc.split('\n\n')[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=doc.split('\n\n', 1)[1])
    parser.add_argument(
        '--device',
        default='cuda' if torch.cuda.is_available() else 'cpu',
        help='device to run the model on (default: cuda if available)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings in the config, key=value pairs')
    return parser


def load_model(
        config: str,
        checkpoint: str,
        device: str,
        cfg_options: Optional[dict] = None) -> Tuple[Config, torch.nn.Module]:
    """The config (with ``cfg_options`` merged) and its model with the weights
    of ``checkpoint``, in eval mode on ``device``.

    Checkpoints are loaded safely (:func:`mmzoo.engine.
    install_checkpoint_safety`). A checkpoint that is missing, unsafe or does
    not fit the model exactly raises :class:`InputError` naming it.
    """
    cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    install_checkpoint_safety()
    init_default_scope(cfg.get('default_scope', 'mmzoo'))
    try:
        model = init_model(cfg.model, checkpoint, device)
    except (CheckpointError, UnsafeCheckpointError,
            FileNotFoundError) as error:
        raise InputError(str(error)) from None
    return cfg, model


def unlabelled_test_pipeline(cfg: Config,
                             label_steps: Iterable[str]) -> Compose:
    """The config's test pipeline without the steps named ``label_steps``
    (their type without scope, e.g. 'LoadAnnotations'): the steps that load or
    derive labels, which a user's images do not have."""
    label_steps = set(label_steps)
    return Compose([
        step for step in cfg.test_dataloader.dataset.pipeline
        if step['type'].split('.')[-1] not in label_steps
    ])


def png_bytes(image: np.ndarray) -> bytes:
    """A grey (H, W) or RGB (H, W, 3) uint8 image encoded as PNG."""
    if image.ndim == 3:
        image = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    ok, encoded = cv2.imencode('.png', image)
    if not ok:
        raise RuntimeError('cv2 could not encode a PNG')
    return encoded.tobytes()


def csv_bytes(rows: List[dict], columns: Sequence[str]) -> bytes:
    """``rows`` as CSV with a header of ``columns``."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns)
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode()
