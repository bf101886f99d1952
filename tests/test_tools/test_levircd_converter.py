"""tools/dataset_converters/levircd.py cuts tiles into patches that tile them
exactly, keeps the whole val/test tiles, and names the files at fault."""
import re
import runpy

import cv2
import numpy as np
import pytest
from mmengine.config import Config
from mmzoo_testing import REPO, run_tool

from mmzoo.registry import DATASETS

TOOL = f'{REPO}/tools/dataset_converters/levircd.py'
COUNTS = dict(train=2, val=1, test=1)


def write_tiles(root, size=64, counts=COUNTS):
    rng = np.random.default_rng(0)
    for split, n in counts.items():
        for i in range(1, n + 1):
            name = f'{split}_{i}.png'
            for folder in 'AB':
                path = root / split / folder / name
                path.parent.mkdir(parents=True, exist_ok=True)
                cv2.imwrite(
                    str(path),
                    rng.integers(0, 256, (size, size, 3), dtype=np.uint8))
            label = (rng.random((size, size)) < 0.2).astype(np.uint8) * 255
            path = root / split / 'label' / name
            path.parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(path), label)
    return root


def run_in_process(*args):
    """The tool's main in this process; its error message, if any."""
    main = runpy.run_path(TOOL)['main']
    try:
        main([str(a) for a in args])
    except SystemExit as exit:
        return str(exit.code)
    return None


@pytest.mark.default_scope('mmzoo')
def test_patches_tile_the_originals_and_whole_tiles_are_kept(tmp_path):
    src = write_tiles(tmp_path / 'src')
    out = tmp_path / 'out'
    result = run_tool(TOOL, src, out, '--patch', '32')
    assert 'train 8, val 4, test 4' in result.stdout
    for split, n in COUNTS.items():
        names = sorted(p.name for p in (out / split / 'label').iterdir())
        assert len(names) == 4 * n
        for folder in ('A', 'B', 'label'):
            assert sorted(p.name
                          for p in (out / split / folder).iterdir()) == names
        for name in names:
            stem, y, x = re.fullmatch(r'(.+)_(\d{4})_(\d{4})\.png',
                                      name).groups()
            y, x = int(y), int(x)
            for folder in ('A', 'B', 'label'):
                flag = cv2.IMREAD_UNCHANGED
                tile = cv2.imread(
                    str(src / split / folder / f'{stem}.png'), flag)
                patch = cv2.imread(str(out / split / folder / name), flag)
                np.testing.assert_array_equal(patch, tile[y:y + 32, x:x + 32])
    for split in ('val', 'test'):
        for folder in ('A', 'B', 'label'):
            name = f'{split}_1.png'
            assert ((out / 'whole' / split / folder /
                     name).read_bytes() == (src / split / folder /
                                            name).read_bytes())
    assert not (out / 'whole' / 'train').exists()

    # The dataset configs read the output: patches, and the whole tiles.
    for name, split, count in (('levircd', 'train', 8), ('levircd', 'test', 4),
                               ('levircd_whole', 'test', 1)):
        cfg = Config.fromfile(f'{REPO}/configs/_base_/datasets/{name}.py')
        dataset_cfg = cfg[f'{split}_dataloader'].dataset
        dataset_cfg.data_root = str(out)
        dataset = DATASETS.build(dataset_cfg)
        assert len(dataset) == count, (name, split)
        if split == 'test':
            size = 64 if name == 'levircd_whole' else 32
            assert dataset[0]['inputs'].shape[1:] == (size, size)


def test_a_1024_tile_gives_the_papers_16_patches(tmp_path):
    src = write_tiles(tmp_path / 'src', size=1024, counts=dict(test=1))
    out = tmp_path / 'out'
    assert run_in_process(src, out, '--splits', 'test', '--whole',
                          'symlink') is None
    patches = sorted(p.name for p in (out / 'test' / 'A').iterdir())
    assert len(patches) == 16
    assert patches[0] == 'test_1_0000_0000.png'
    assert patches[-1] == 'test_1_0768_0768.png'
    link = out / 'whole' / 'test' / 'A' / 'test_1.png'
    assert link.is_symlink()
    assert link.resolve() == (src / 'test' / 'A' / 'test_1.png').resolve()


@pytest.mark.parametrize(
    'break_it, message', [
        (lambda src: (src / 'val' / 'B' / 'val_1.png').unlink(),
         r'val.A.val_1\.png has no partner: missing .*val.B.val_1\.png'),
        (lambda src: (src / 'train' / 'label' / 'train_2.png').unlink(),
         r'train.A.train_2\.png has no partner: missing .*label.train_2\.png'),
        (lambda src: cv2.imwrite(
            str(src / 'test' / 'label' / 'test_1.png'),
            np.full((64, 64), 128, np.uint8)),
         r'label.test_1\.png holds values \[128\]'),
        (lambda src: cv2.imwrite(
            str(src / 'test' / 'B' / 'test_1.png'),
            np.zeros((64, 48, 3), np.uint8)),
         r'B.test_1\.png is 48x64 but .*A.test_1\.png is 64x64'),
        (lambda src: write_tiles(src, size=48, counts=dict(test=1)),
         r'A.test_1\.png is 48x48, not a multiple of the 32-pixel patch'),
    ],
    ids=['partner', 'label', 'values', 'size', 'multiple'])
def test_bad_input_names_the_file(tmp_path, break_it, message):
    src = write_tiles(tmp_path / 'src')
    break_it(src)
    error = run_in_process(src, tmp_path / 'out', '--patch', '32')
    assert error is not None and re.search(message, error), error
