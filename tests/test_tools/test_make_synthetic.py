"""The synthetic dataset generators write what the real readers expect.

Each generator runs as a script, the way users call it; its output is then read
by the upstream loader of the real dataset (mmseg, mmpretrain, pycocotools and
mmdet), and the images are checked by hand against the class each pixel or
image is labelled with.
"""
import os
import runpy
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
TOOLS = REPO / 'tools' / 'dataset_converters'

# Small enough that the whole file runs in seconds.
ARGS = dict(
    ade20k=['--num-train', '2', '--num-val', '4', '--size', '64'],
    imagenet=[
        '--num-classes', '3', '--train-per-class', '2', '--val-per-class', '2',
        '--size', '32'
    ],
    coco=['--num-train', '3', '--num-val', '2', '--size', '96'],
)


def tool_path(name):
    return TOOLS / f'make_synthetic_{name}.py'


def run_in_process(name, out, *extra):
    """Call the script's ``main`` in this process.

    A script run costs seconds of start-up (importing mmzoo imports torch), so
    only the first run of each script goes through a subprocess.
    """
    main = runpy.run_path(str(tool_path(name)))['main']
    main([str(out), *ARGS[name], *extra])


def read_tree(root):
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob('*')) if p.is_file()
    }


def read_rgb(path):
    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)


def dominant_channel(pixels):
    """0, 1 or 2 for red, green or blue: which channel the mean leans to."""
    return int(np.argmax(pixels.reshape(-1, 3).mean(0)))


@pytest.fixture(scope='module')
def roots(tmp_path_factory):
    """Each script run as users run it, all three at once to save time."""
    # Put this checkout first so that the scripts import the mmzoo under
    # test even when another one is installed.
    path = os.pathsep.join(
        filter(None, [str(REPO), os.environ.get('PYTHONPATH')]))
    outs, procs = {}, {}
    for name in ARGS:
        outs[name] = tmp_path_factory.mktemp(name) / 'data'
        procs[name] = subprocess.Popen([
            sys.executable,
            str(tool_path(name)),
            str(outs[name]), *ARGS[name]
        ],
                                       cwd=REPO,
                                       env=dict(os.environ, PYTHONPATH=path),
                                       stdout=subprocess.PIPE,
                                       stderr=subprocess.PIPE,
                                       text=True)
    for name, proc in procs.items():
        stdout, stderr = proc.communicate(timeout=120)
        assert proc.returncode == 0, stderr
        # One summary line naming the output folder.
        assert stdout.count('\n') == 1 and str(outs[name]) in stdout
    return outs


@pytest.mark.parametrize('name', list(ARGS))
def test_seeded_and_deterministic(roots, tmp_path, name):
    run_in_process(name, tmp_path / 'same')
    assert read_tree(tmp_path / 'same') == read_tree(roots[name])
    run_in_process(name, tmp_path / 'other', '--seed', '1')
    same, other = read_tree(tmp_path / 'same'), read_tree(tmp_path / 'other')
    assert other.keys() == same.keys()
    assert any(other[k] != same[k] for k in same)


@pytest.mark.parametrize('name', list(ARGS))
def test_refuses_non_empty_output(roots, capsys, name):
    before = read_tree(roots[name])
    with pytest.raises(SystemExit) as error:
        run_in_process(name, roots[name], '--seed', '1')
    assert error.value.code != 0
    assert str(roots[name]) in capsys.readouterr().err
    assert read_tree(roots[name]) == before


def test_ade20k(roots):
    from mmseg.datasets import ADE20KDataset
    from mmseg.datasets.transforms import LoadAnnotations

    root = roots['ade20k']
    dataset = ADE20KDataset(
        data_root=str(root),
        data_prefix=dict(
            img_path='images/validation',
            seg_map_path='annotations/validation'),
        pipeline=[])
    assert len(dataset) == 4
    # The dataset passes reduce_zero_label=True on to LoadAnnotations.
    load = LoadAnnotations()
    for i in range(len(dataset)):
        info = dataset.get_data_info(i)
        assert Path(info['img_path']).is_file()
        assert info['reduce_zero_label']
        seg = load(info)['gt_seg_map']
        assert seg.shape == (64, 64)
        values = set(np.unique(seg).tolist())
        # Wall, sky and floor are in every scene; "other" (0 in the png,
        # ignored after reduce_zero_label) is only the 2-pixel frame.
        assert {0, 2, 3, 255} <= values <= {0, 1, 2, 3, 4, 255}
        inner = np.zeros(seg.shape, bool)
        inner[2:-2, 2:-2] = True
        assert ((seg == 255) == ~inner).all()

        image = read_rgb(info['img_path'])
        sky_rows = np.nonzero((seg == 2).any(1))[0]
        floor_rows = np.nonzero((seg == 3).any(1))[0]
        assert sky_rows.max() < 32 <= floor_rows.min()
        assert dominant_channel(image[seg == 2]) == 2  # sky is blue
        for cls, channel in ((1, 0), (4, 1)):  # red buildings, green trees
            if (seg == cls).sum() > 20:
                assert dominant_channel(image[seg == cls]) == channel


def test_imagenet(roots):
    from mmpretrain.datasets import ImageNet

    root = roots['imagenet']
    train = ImageNet(data_root=str(root), split='train', pipeline=[])
    val = ImageNet(
        data_root=str(root),
        ann_file='meta/val.txt',
        data_prefix='val',
        pipeline=[])
    assert train.get_gt_labels().tolist() == [0, 0, 1, 1, 2, 2]
    assert sorted(val.get_gt_labels().tolist()) == [0, 0, 1, 1, 2, 2]
    assert Path(train.get_data_info(0)['img_path']) == (
        root / 'train' / 'n01440764' / 'n01440764_1.JPEG')
    for dataset in (train, val):
        for i in range(len(dataset)):
            info = dataset.get_data_info(i)
            image = read_rgb(info['img_path'])
            assert image.shape == (32, 32, 3)
            # Classes 0, 1, 2 are red, green and blue objects on grey: the
            # saturated pixels give the label away.
            saturated = image.max(-1).astype(int) - image.min(-1) > 60
            assert saturated.sum() > 10
            assert dominant_channel(image[saturated]) == info['gt_label']


def test_coco(roots):
    from mmdet.datasets import CocoDataset
    from pycocotools.coco import COCO

    root = roots['coco']
    coco = COCO(str(root / 'annotations' / 'instances_train2017.json'))
    assert [c['name'] for c in coco.loadCats(coco.getCatIds())
            ] == ['person', 'bicycle', 'car']
    # Hand-worked: persons are red triangles (half their box), bicycles
    # green disks (pi/4 of it), cars blue rectangles (all of it).
    channel = {1: 0, 2: 1, 3: 2}
    fill = {1: 0.5, 2: np.pi / 4, 3: 1.0}
    for image_id in coco.getImgIds():
        info = coco.loadImgs(image_id)[0]
        image = read_rgb(root / 'train2017' / info['file_name'])
        anns = coco.loadAnns(coco.getAnnIds(imgIds=image_id))
        assert 1 <= len(anns) <= 4
        for ann in anns:
            mask = coco.annToMask(ann).astype(bool)
            # The drawn mask and pycocotools' rasterised polygon agree.
            assert abs(mask.sum() - ann['area']) < 0.05 * ann['area']
            assert dominant_channel(image[mask]) == channel[ann['category_id']]
            x, y, w, h = ann['bbox']
            ratio = ann['area'] / (w * h)
            nearest = min(fill, key=lambda c: abs(fill[c] - ratio))
            assert nearest == ann['category_id']

    dataset = CocoDataset(
        data_root=str(root),
        ann_file='annotations/instances_train2017.json',
        data_prefix=dict(img='train2017/'),
        metainfo=dict(classes=('person', 'bicycle', 'car')),
        pipeline=[])
    assert len(dataset) == 3
    num_instances = 0
    for i in range(len(dataset)):
        info = dataset.get_data_info(i)
        assert Path(info['img_path']).is_file()
        for instance in info['instances']:
            x1, y1, x2, y2 = instance['bbox']
            assert 0 <= x1 < x2 <= info['width']
            assert 0 <= y1 < y2 <= info['height']
            assert instance['bbox_label'] in (0, 1, 2)
            assert instance['ignore_flag'] == 0
            num_instances += 1
    assert num_instances == len(coco.getAnnIds())
