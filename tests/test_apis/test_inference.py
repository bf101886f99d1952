"""The helpers the inference tools share: label steps dropped from a test
pipeline, PNG and CSV bytes that standard readers read back, and a missing
checkpoint named in a clear error."""
import csv
import io
import os.path as osp

import numpy as np
import pytest
from mmengine.config import Config
from PIL import Image

from mmzoo.apis import (InputError, csv_bytes, load_model, png_bytes,
                        unlabelled_test_pipeline)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def test_label_steps_are_dropped_whatever_their_scope():
    cfg = Config(
        dict(
            test_dataloader=dict(
                dataset=dict(pipeline=[
                    dict(type='mmzoo.LoadBitemporalImages'),
                    dict(type='mmzoo.LoadChangeLabel'),
                    dict(type='LoadAnnotations'),
                    dict(type='mmzoo.PackBitemporalInputs'),
                ]))))
    pipeline = unlabelled_test_pipeline(cfg,
                                        ('LoadChangeLabel', 'LoadAnnotations'))
    assert [type(t).__name__ for t in pipeline.transforms
            ] == ['LoadBitemporalImages', 'PackBitemporalInputs']


@pytest.mark.parametrize('shape', [(5, 7), (5, 7, 3)])
def test_png_bytes_read_back_by_pil(shape):
    image = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    read = np.asarray(Image.open(io.BytesIO(png_bytes(image))))
    np.testing.assert_array_equal(read, image)  # RGB stays RGB


def test_csv_bytes_read_back_by_the_csv_module():
    rows = [dict(name='a,b', pixels=3), dict(name='c', pixels='')]
    read = list(
        csv.DictReader(
            io.StringIO(csv_bytes(rows, ['name', 'pixels']).decode())))
    assert read == [dict(name='a,b', pixels='3'), dict(name='c', pixels='')]


def test_a_missing_checkpoint_is_named(tmp_path):
    missing = tmp_path / 'nowhere.pth'
    config = osp.join(REPO, 'configs', 'stanet',
                      'stanet-base_r18_1xb8-200e_levircd-256x256.py')
    with pytest.raises(InputError, match='nowhere.pth'):
        load_model(config, str(missing), 'cpu')
