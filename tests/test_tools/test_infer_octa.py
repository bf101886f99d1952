"""tools/infer_octa.py: reading a folder of OCTA images, the pixel size, bad
input, and a run of a randomly initialised BSDA-Net on a folder with an
unreadable file."""
import csv
import runpy
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmseg.structures import SegDataSample
from mmzoo_testing import REPO
from PIL import Image

from mmzoo.evaluation.functional import faz_biomarkers
from mmzoo.registry import MODELS
from mmzoo.visualization import faz_contours

TOOL = f'{REPO}/tools/infer_octa.py'


@pytest.fixture(scope='module')
def tool():
    return runpy.run_path(TOOL)


def write_images(folder: Path) -> dict:
    """A grey PNG, an RGB BMP and a grey TIFF of different sizes, a text file
    and a sub-folder that are not images."""
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    images = {
        'a.png': rng.integers(0, 256, (40, 50), dtype=np.uint8),
        'b.bmp': rng.integers(0, 256, (30, 30, 3), dtype=np.uint8),
        'c.tif': rng.integers(0, 256, (64, 48), dtype=np.uint8),
    }
    for name, image in images.items():
        Image.fromarray(image).save(folder / name)
    (folder / 'notes.txt').write_text('not an image')
    (folder / 'sub').mkdir(exist_ok=True)
    return images


def read_rgb(path):
    return np.asarray(Image.open(path).convert('RGB'))


def test_images_are_listed_and_read_as_rgb(tmp_path, tool):
    images = write_images(tmp_path)
    listed = tool['list_images'](tmp_path)
    assert [p.name for p in listed] == ['a.png', 'b.bmp', 'c.tif']
    for path in listed:
        expected = images[path.name]
        if expected.ndim == 2:
            expected = np.repeat(expected[..., None], 3, axis=2)
        np.testing.assert_array_equal(tool['read_image'](path), expected)


@pytest.mark.parametrize('content', [b'', b'not an image at all'])
def test_unreadable_images_are_named(tmp_path, tool, content):
    path = tmp_path / 'broken.png'
    path.write_bytes(content)
    with pytest.raises(tool['UnreadableImage'], match='broken.png: not a'):
        tool['read_image'](path)
    # A truncated PNG: the header is there, the pixels are not.
    ok, encoded = cv2.imencode('.png', np.full((20, 20), 7, np.uint8))
    path.write_bytes(encoded.tobytes()[:40])
    with pytest.raises(tool['UnreadableImage'], match='broken.png'):
        tool['read_image'](path)


def test_folders_that_cannot_be_inferred(tmp_path, tool):
    input_error = tool['InputError']
    with pytest.raises(input_error, match='no images'):
        tool['list_images'](tmp_path)
    with pytest.raises(input_error, match='is not a folder'):
        tool['list_images'](tmp_path / 'missing')
    write_images(tmp_path)
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / 'a.bmp')
    with pytest.raises(input_error, match='several images named a'):
        tool['list_images'](tmp_path)


def test_pixel_size_options(tool):
    args = tool['parse_args'](
        ['cfg.py', 'ckpt.pth', 'in', 'out', '--fov-mm', '6'])
    assert tool['pixel_spacing'](args, 400) == (0.015, '--fov-mm 6')
    assert tool['pixel_spacing'](args, 304)[0] == pytest.approx(6 / 304)
    args = tool['parse_args'](
        ['cfg.py', 'ckpt.pth', 'in', 'out', '--pixel-spacing', '0.01'])
    assert tool['pixel_spacing'](args, 400) == (0.01, '--pixel-spacing 0.01')
    for bad in ([], ['--fov-mm', '6', '--pixel-spacing',
                     '0.01'], ['--fov-mm', '0'], ['--pixel-spacing', '-1']):
        with pytest.raises(SystemExit):
            tool['parse_args'](['cfg.py', 'ckpt.pth', 'in', 'out', *bad])


# The demo's model (ResNet-18 encoders at a quarter width), quick to run.
CONFIG = f'{REPO}/configs/bsda/bsda-net_r18-w16_1xb8-60e_synthocta-96x96.py'
DIAGNOSES = ('NORMAL', 'DR', 'AMD')


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory):
    """A BSDA-Net of the config with PyTorch's default random weights, saved as
    a checkpoint."""
    cfg = Config.fromfile(CONFIG)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    path = tmp_path_factory.mktemp('ckpt') / 'bsda.pth'
    torch.save({'state_dict': model.state_dict()}, path)
    return path, model.eval()


def reference(model, path):
    """The model run by hand on the image read as one grey channel at its own
    size: (FAZ probability map, class probabilities)."""
    grey = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    sample = SegDataSample(
        metainfo=dict(img_shape=grey.shape, ori_shape=grey.shape))
    with torch.no_grad():
        out = model.test_step(
            dict(inputs=[torch.from_numpy(grey)[None]],
                 data_samples=[sample]))[0]
    return out.seg_logits.data[0].numpy(), out.pred_class_score.numpy()


def test_a_folder_with_an_unreadable_image(tmp_path, checkpoint,
                                           synthetic_octa, capsys):
    """A grey 96 x 96 BMP of the synthetic set, another as an RGB PNG of
    another size, and a file that is no image: every readable image gets its
    mask, picture and CSV row with the model's own results at its own size, the
    broken one is named and skipped, and the exit status says so."""
    path, model = checkpoint
    images = tmp_path / 'in'
    images.mkdir()
    source = synthetic_octa / 'OCTA_6mm/Projection Maps/OCTA(ILM_OPL)'
    (images / '10001.bmp').write_bytes((source / '10001.bmp').read_bytes())
    grey = cv2.imread(str(source / '10002.bmp'), cv2.IMREAD_GRAYSCALE)
    rgb = cv2.resize(np.stack([grey, grey // 2, 255 - grey], axis=2), (83, 70))
    cv2.imwrite(str(images / 'eye rgb.png'), rgb)
    (images / 'broken.tiff').write_bytes(b'II*\x00 truncated')
    # A threshold at the median probability of the first image: a random
    # model's FAZ would otherwise cover all or nothing.
    expected = {
        name: reference(model, images / name)
        for name in ('10001.bmp', 'eye rgb.png')
    }
    threshold = float(np.median(expected['10001.bmp'][0]))
    model.decode_head.threshold = threshold
    out = tmp_path / 'out'
    with pytest.raises(SystemExit) as exit:
        runpy.run_path(TOOL)['main']([
            CONFIG,
            str(path),
            str(images),
            str(out), '--fov-mm', '6', '--device', 'cpu', '--cfg-options',
            f'model.decode_head.threshold={threshold!r}'
        ])
    assert exit.value.code == 1
    captured = capsys.readouterr()
    assert 'broken.tiff' in captured.err
    assert 'Skipped 1 unreadable image(s): broken.tiff' in captured.out
    assert not (out / 'masks' / 'broken.png').exists()
    first_mask = cv2.imread(str(out / 'masks' / '10001.png'))
    assert 0 < first_mask.mean() < 255

    with open(out / 'faz.csv', newline='') as f:
        rows = {row['file']: row for row in csv.DictReader(f)}
    assert sorted(rows) == sorted(expected)
    for name, row in rows.items():
        stem = name.rsplit('.', 1)[0]
        probability, scores = expected[name]
        height, width = probability.shape
        mask = cv2.imread(
            str(out / 'masks' / f'{stem}.png'), cv2.IMREAD_UNCHANGED)
        np.testing.assert_array_equal(mask, (probability > threshold) * 255)
        spacing = 6 / width
        measured = [
            float(row[key])
            for key in ('faz_area_mm2', 'faz_perimeter_mm', 'faz_circularity')
        ]
        # nan circularity where the FAZ is empty, in both.
        np.testing.assert_allclose(
            measured, faz_biomarkers(mask, spacing), rtol=0, atol=1e-4)
        assert row['predicted_class'] == DIAGNOSES[scores.argmax()]
        assert float(row['probability']) == pytest.approx(
            scores.max(), abs=1e-4)
        assert float(row['pixel_spacing_mm']) == pytest.approx(spacing)
        assert row['spacing_from'] == '--fov-mm 6'
        picture = cv2.imread(str(out / 'pictures' / f'{stem}.png'))
        assert picture.shape[1] == 3 * width + 8
        # The last rows are the image with the outline | heatmap | distance.
        contours = cv2.cvtColor(picture[-height:, :width], cv2.COLOR_BGR2RGB)
        np.testing.assert_array_equal(
            contours, faz_contours(read_rgb(images / name), mask))


def test_a_checkpoint_of_another_model_is_refused(tmp_path):
    write_images(tmp_path / 'in')
    path = tmp_path / 'other.pth'
    torch.save({'state_dict': {'head.weight': torch.zeros(3)}}, path)
    with pytest.raises(SystemExit) as exit:
        runpy.run_path(TOOL)['main']([
            CONFIG,
            str(path),
            str(tmp_path / 'in'),
            str(tmp_path / 'out'), '--pixel-spacing', '0.01'
        ])
    assert str(path) in str(exit.value.code)
    assert not (tmp_path / 'out').exists()
