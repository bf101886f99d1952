"""tools/infer_octa.py: reading a folder of OCTA images, the pixel size, and
bad input."""
import runpy
from pathlib import Path

import cv2
import numpy as np
import pytest
from mmzoo_testing import REPO
from PIL import Image

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
