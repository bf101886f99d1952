"""tools/infer_cd.py on one pair and on two folders, with a randomly
initialised STANet saved as a checkpoint."""
import runpy

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmseg.structures import SegDataSample
from mmzoo_testing import REPO, run_tool
from PIL import Image

from mmzoo.registry import MODELS
from mmzoo.visualization import distance_to_image

TOOL = f'{REPO}/tools/infer_cd.py'
CONFIG = f'{REPO}/configs/stanet/stanet-base_r18_1xb8-200e_levircd-256x256.py'
SIZE = 48


def build_model():
    """The config's model, as mmzoo's registry builds it under any default
    scope: every type in it names its package."""
    cfg = Config.fromfile(CONFIG)
    cfg.model.backbone.pop('init_cfg', None)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    return model.eval()


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory):
    path = tmp_path_factory.mktemp('ckpt') / 'stanet.pth'
    model = build_model()
    torch.save({'state_dict': model.state_dict()}, path)
    return path, model


def write_pairs(root, names):
    rng = np.random.default_rng(0)
    for name in names:
        base = rng.integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8)
        later = base.copy()
        later[10:30, 20:44] = rng.integers(0, 256, (20, 24, 3))
        for folder, image in (('A', base), ('B', later)):
            (root / folder).mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(root / folder / name), image)
    return root / 'A', root / 'B'


def reference(model, path_a, path_b):
    """The model run by hand on the pair, read with PIL: (A, B) RGB."""
    a = np.asarray(Image.open(path_a).convert('RGB'))
    b = np.asarray(Image.open(path_b).convert('RGB'))
    inputs = torch.from_numpy(np.concatenate([a, b], 2)).permute(2, 0, 1)
    sample = SegDataSample(
        metainfo=dict(img_shape=(SIZE, SIZE), ori_shape=(SIZE, SIZE)))
    with torch.no_grad():
        out = model.test_step(
            dict(inputs=[inputs.contiguous()], data_samples=[sample]))[0]
    return (out.pred_sem_seg.data[0].numpy(), out.seg_logits.data[0].numpy(),
            b)


def set_threshold(model, path_a, path_b):
    """A threshold at the median distance of the pair: a random model's
    distances all lie above STANet's 1, which would leave nothing unchanged to
    check."""
    _, distance, _ = reference(model, path_a, path_b)
    model.decode_head.threshold = float(np.median(distance))
    return [
        '--cfg-options',
        f'model.decode_head.threshold={model.decode_head.threshold!r}'
    ]


def check_outputs(out, name, model, path_a, path_b):
    change = cv2.imread(
        str(out / 'change' / f'{name}.png'), cv2.IMREAD_UNCHANGED)
    distance = np.load(out / 'distance' / f'{name}.npy')
    picture = cv2.imread(
        str(out / 'distance' / f'{name}.png'), cv2.IMREAD_UNCHANGED)
    overlay = cv2.cvtColor(
        cv2.imread(str(out / 'overlay' / f'{name}.png')), cv2.COLOR_BGR2RGB)
    assert change.shape == distance.shape == picture.shape == (SIZE, SIZE)
    assert set(np.unique(change).tolist()) == {0, 255}
    # The change map is the distance map thresholded, as the model defines.
    np.testing.assert_array_equal(change == 255, distance
                                  > model.decode_head.threshold)
    np.testing.assert_array_equal(picture, distance_to_image(distance))
    expected_change, expected_distance, b = reference(model, path_a, path_b)
    np.testing.assert_array_equal(change // 255, expected_change)
    np.testing.assert_allclose(distance, expected_distance, atol=1e-5)
    # Far from any change the overlay is date B itself; on changes it is
    # redder than B.
    changed = change > 0
    far = cv2.dilate(changed.astype(np.uint8), np.ones((5, 5))) == 0
    assert far.any()
    np.testing.assert_array_equal(overlay[far], b[far])
    assert (overlay[changed][:, 0].astype(int) >= b[changed][:, 0]).all()


def test_folders_with_a_sliding_window(tmp_path, checkpoint):
    path, model = checkpoint
    names = ['p1.png', 'p2.png']
    dir_a, dir_b = write_pairs(tmp_path / 'in', names)
    model.test_cfg = dict(mode='slide', crop_size=(32, 32), stride=(16, 16))
    try:
        options = set_threshold(model, dir_a / 'p1.png', dir_b / 'p1.png')
        out = tmp_path / 'out'
        result = run_tool(TOOL, dir_a, dir_b, '--config', CONFIG,
                          '--checkpoint', path, '--out', out, '--save-npy',
                          '--device', 'cpu', '--slide', '--window', 32,
                          '--overlap', 16, *options)
        assert ('2 pair(s) (sliding 32-pixel window, overlap 16)'
                in result.stdout)
        # tqdm's progress bar for folders.
        assert '2/2' in result.stderr
        for name in names:
            check_outputs(out, name[:-4], model, dir_a / name, dir_b / name)
    finally:
        model.test_cfg = dict(mode='whole')


def run_in_process(*args):
    main = runpy.run_path(TOOL)['main']
    with pytest.raises(SystemExit) as exit:
        main([str(a) for a in args])
    return str(exit.value.code)


def test_unmatched_files_are_named_before_any_inference(tmp_path):
    dir_a, dir_b = write_pairs(tmp_path / 'in', ['p1.png', 'p2.png'])
    (dir_b / 'p2.png').rename(dir_b / 'p3.png')
    error = run_in_process(dir_a, dir_b, '--config', CONFIG, '--checkpoint',
                           tmp_path / 'missing.pth', '--out', tmp_path)
    assert 'A/p2.png' in error and 'B/p3.png' in error
    assert 'p1.png' not in error


def test_a_file_and_a_folder_are_refused(tmp_path):
    dir_a, dir_b = write_pairs(tmp_path / 'in', ['p1.png'])
    error = run_in_process(dir_a / 'p1.png', dir_b, '--config', CONFIG,
                           '--checkpoint', 'x.pth', '--out', tmp_path)
    assert 'two images or two folders' in error


def test_one_pair_grey_and_rgba(tmp_path, checkpoint, capsys):
    """One pair, date A grey and date B with an alpha channel: both are read as
    RGB (PIL's convert('RGB') is the reference) and one line of the output says
    so."""
    path, model = checkpoint
    dir_a, dir_b = write_pairs(tmp_path / 'in', ['scene.png'])
    a, b = dir_a / 'scene.png', dir_b / 'scene.png'
    cv2.imwrite(str(a), cv2.imread(str(a), cv2.IMREAD_GRAYSCALE))
    rgba = cv2.cvtColor(cv2.imread(str(b)), cv2.COLOR_BGR2BGRA)
    rgba[..., 3] = 128
    cv2.imwrite(str(b), rgba)
    assert Image.open(a).mode == 'L' and Image.open(b).mode == 'RGBA'
    options = set_threshold(model, a, b)
    out = tmp_path / 'out'
    # In this process, to save a start-up; the folder test runs the script.
    runpy.run_path(TOOL)['main']([
        str(a),
        str(b), '--config', CONFIG, '--checkpoint',
        str(path), '--out',
        str(out), '--save-npy', '--device', 'cpu', *options
    ])
    check_outputs(out, 'scene', model, a, b)
    notes = [
        line for line in capsys.readouterr().out.splitlines()
        if 'not RGB' in line
    ]
    assert len(notes) == 1
    assert notes[0].startswith('Note: 2 input image(s) were not RGB')
    assert f'{a} (L)' in notes[0]


def test_a_checkpoint_of_another_model_is_refused_by_name(
        tmp_path, checkpoint):
    """A STANet-base checkpoint given with the BAM config: the keys of BAM's
    attention are missing."""
    path, _ = checkpoint
    dir_a, dir_b = write_pairs(tmp_path / 'in', ['p1.png'])
    bam = CONFIG.replace('stanet-base', 'stanet-bam')
    error = run_in_process(dir_a, dir_b, '--config', bam, '--checkpoint', path,
                           '--out', tmp_path / 'out')
    assert str(path) in error
    assert 'missing keys: decode_head.attention' in error
    assert not (tmp_path / 'out').exists()
