"""tools/infer_cd.py: the choice between whole images and a sliding window,
the ground sampling distance of GeoTIFFs, and runs on one pair and on two
folders with a randomly initialised STANet saved as a checkpoint."""
import csv
import runpy
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config, ConfigDict
from mmseg.models.segmentors import EncoderDecoder
from mmseg.structures import SegDataSample
from mmzoo_testing import REPO, run_tool
from PIL import Image, TiffImagePlugin, TiffTags

from mmzoo.registry import MODELS
from mmzoo.visualization import distance_to_image

TOOL = f'{REPO}/tools/infer_cd.py'
CONFIG = f'{REPO}/configs/stanet/stanet-base_r18_1xb8-200e_levircd-256x256.py'
SIZE = 48
# The training crop of the test's config: SIZE slides, CROP does not.
CROP = 32


@pytest.fixture(scope='module')
def tool():
    return runpy.run_path(TOOL)


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


@pytest.fixture(scope='module')
def crop_config(tmp_path_factory):
    """STANet-base trained on CROP x CROP crops."""
    path = tmp_path_factory.mktemp('cfg') / 'stanet_crop32.py'
    path.write_text(f"""_base_ = ['{CONFIG}']
train_dataloader = dict(dataset=dict(pipeline=[
    dict(type='mmzoo.LoadBitemporalImages'),
    dict(type='mmzoo.LoadChangeLabel'),
    dict(type='mmseg.RandomCrop', crop_size=({CROP}, {CROP})),
    dict(type='mmzoo.PackBitemporalInputs')
]))
""")
    return str(path)


def geotiff_tags(scale, keys=None):
    """TIFF tags of a GeoTIFF: ModelPixelScale ``scale`` (x, y, z) and a
    GeoKeyDirectory of ``keys`` {key: value}."""
    tags = TiffImagePlugin.ImageFileDirectory_v2()
    tags[33550] = tuple(float(s) for s in scale)
    tags.tagtype[33550] = TiffTags.DOUBLE
    if keys:
        directory = [1, 1, 0, len(keys)]
        for key, value in sorted(keys.items()):
            directory += [key, 0, 1, value]
        tags[34735] = tuple(directory)
        tags.tagtype[34735] = TiffTags.SHORT
    return tags


def write_pairs(root, names, size=SIZE, tags=None, seed=0):
    rng = np.random.default_rng(seed)
    for name in names:
        base = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
        later = base.copy()
        changed = later[10:30, 20:44]
        changed[:] = rng.integers(0, 256, changed.shape)
        for folder, image in (('A', base), ('B', later)):
            (root / folder).mkdir(parents=True, exist_ok=True)
            if tags is None:
                Image.fromarray(image).save(root / folder / name)
            else:
                Image.fromarray(image).save(
                    root / folder / name, tiffinfo=tags)
    return root / 'A', root / 'B'


def preprocess(model, path_a, path_b):
    """The pair read with PIL as RGB (A, B), through the model's data
    preprocessor: the (1, 6, H, W) input and its sample."""
    a = np.asarray(Image.open(path_a).convert('RGB'))
    b = np.asarray(Image.open(path_b).convert('RGB'))
    inputs = torch.from_numpy(np.concatenate([a, b], 2)).permute(2, 0, 1)
    shape = a.shape[:2]
    sample = SegDataSample(metainfo=dict(img_shape=shape, ori_shape=shape))
    data = model.data_preprocessor(
        dict(inputs=[inputs.contiguous()], data_samples=[sample]), False)
    return data['inputs'], sample, b


def whole_reference(model, path_a, path_b):
    """The distance map of the model run by hand on the whole pair, and date B
    as RGB."""
    inputs, sample, b = preprocess(model, path_a, path_b)
    with torch.no_grad():
        out = model.predict(inputs, [sample])[0]
    return out.seg_logits.data[0].numpy(), b


def slide_reference(model, path_a, path_b, crop, stride):
    """mmseg's EncoderDecoder.slide_inference over the model's score map."""
    inputs, sample, b = preprocess(model, path_a, path_b)
    segmentor = SimpleNamespace(
        test_cfg=ConfigDict(crop_size=crop, stride=stride),
        out_channels=1,
        encode_decode=model.encode_decode)
    with torch.no_grad():
        scores = EncoderDecoder.slide_inference(segmentor, inputs,
                                                [dict(sample.metainfo)])
    return scores[0, 0].numpy(), b


def threshold_options(distance):
    """A threshold at the median distance: a random model's distances all lie
    above STANet's 1, which would leave nothing unchanged to check."""
    threshold = float(np.median(distance))
    return threshold, [
        '--cfg-options', f'model.decode_head.threshold={threshold!r}'
    ]


def check_outputs(out, name, distance_ref, threshold, b):
    """The written maps against the reference distances, and the CSV row of the
    change map as written; returns that row."""
    change = cv2.imread(
        str(out / 'change' / f'{name}.png'), cv2.IMREAD_UNCHANGED)
    distance = np.load(out / 'distance' / f'{name}.npy')
    picture = cv2.imread(
        str(out / 'distance' / f'{name}.png'), cv2.IMREAD_UNCHANGED)
    overlay = cv2.cvtColor(
        cv2.imread(str(out / 'overlay' / f'{name}.png')), cv2.COLOR_BGR2RGB)
    assert change.shape == distance.shape == picture.shape == b.shape[:2]
    assert set(np.unique(change).tolist()) <= {0, 255}
    # Windows batched or one by one, and other thread counts, round
    # differently (1e-5 seen); whole and sliding differ by 1e-2 and more.
    np.testing.assert_allclose(distance, distance_ref, atol=1e-4)
    # The change map is the distance map thresholded, as the model defines.
    np.testing.assert_array_equal(change == 255, distance > threshold)
    np.testing.assert_array_equal(picture, distance_to_image(distance))
    # Far from any change the overlay is date B itself; on changes it is
    # redder than B.
    changed = change > 0
    far = cv2.dilate(changed.astype(np.uint8), np.ones((5, 5))) == 0
    np.testing.assert_array_equal(overlay[far], b[far])
    assert (overlay[changed][:, 0].astype(int) >= b[changed][:, 0]).all()
    with open(out / 'changes.csv', newline='') as f:
        row = next(r for r in csv.DictReader(f) if r['name'] == name)
    pixels = int(np.count_nonzero(change))
    assert row['changed_pixels'] == str(pixels)
    assert (int(row['height']), int(row['width'])) == change.shape
    assert float(row['changed_fraction']) == pytest.approx(
        pixels / change.size, abs=1e-6)
    return row


def test_the_training_crop_is_read_from_the_config(tool, crop_config):
    crop = tool['training_crop']
    assert crop(Config.fromfile(CONFIG)) == (256, 256)
    assert crop(Config.fromfile(crop_config)) == (CROP, CROP)
    wrapped = dict(
        type='RepeatDataset',
        dataset=dict(pipeline=[dict(type='RandomCrop', crop_size=40)]))
    cfg = Config(dict(train_dataloader=dict(dataset=wrapped)))
    assert crop(cfg) == (40, 40)
    assert crop(Config(dict(model=dict()))) is None


def policy(tool, config, *options):
    args = tool['parse_args'](
        ['a', 'b', '--config', config, '--checkpoint', 'c', '--out', 'o'] +
        list(options))
    return tool['WindowPolicy'].from_args(args, Config.fromfile(config))


def test_larger_images_slide_with_the_training_crop(tool, crop_config):
    auto = policy(tool, crop_config)
    slide = dict(mode='slide', crop_size=(CROP, CROP), stride=(16, 16))
    assert auto.test_cfg(SIZE, SIZE) == slide
    assert auto.test_cfg(CROP, SIZE) == slide
    assert auto.test_cfg(CROP, CROP) == dict(mode='whole')
    assert auto.test_cfg(20, 30) == dict(mode='whole')
    assert auto.message(SIZE, SIZE) == (
        '48x48 is larger than the training crop 32x32: sliding 32x32 '
        'windows with stride 16; --whole infers the image at once')
    assert auto.message(CROP, CROP) == (
        '32x32 is no larger than the training crop 32x32: inferring the '
        'whole image')
    forced = policy(tool, crop_config, '--whole')
    assert forced.test_cfg(1024, 1024) == dict(mode='whole')
    assert forced.message(1024, 1024) == 'inferring whole images (--whole)'
    chosen = policy(tool, crop_config, '--window', '20', '--overlap', '5')
    assert chosen.test_cfg(SIZE, SIZE) == dict(
        mode='slide', crop_size=(20, 20), stride=(15, 15))
    assert chosen.message(SIZE, SIZE).startswith(
        '48x48 is larger than the window 20x20 (--window): sliding 20x20 '
        'windows with stride 15')


def test_window_options_that_cannot_work(tool, crop_config, tmp_path):
    with pytest.raises(tool['InputError'], match='--overlap 32 leaves no'):
        policy(tool, crop_config, '--overlap', '32')
    with pytest.raises(SystemExit):
        policy(tool, crop_config, '--whole', '--window', '64')
    # A config that trains on whole images: whole images, and the output
    # says why.
    no_crop = tmp_path / 'no_crop.py'
    no_crop.write_text(f"_base_ = ['{CONFIG}']\n"
                       'train_dataloader = dict(dataset=dict(pipeline=[]))\n')
    whole = policy(tool, str(no_crop))
    assert whole.test_cfg(1024, 1024) == dict(mode='whole')
    assert 'trains on no fixed crop' in whole.message(1024, 1024)


def test_the_gsd_of_geotiffs(tool, tmp_path):
    image = np.zeros((8, 8, 3), np.uint8)
    # GeoKeys: GTModelType 1 projected, 2 geographic; ProjLinearUnits in
    # EPSG codes.
    model_type, units, metre, foot = 1024, 3076, 9001, 9002

    def projected(unit):
        return {model_type: 1, units: unit}

    paths = {}
    for name, tags in [
        ('metres.tif', geotiff_tags((0.5, 0.5, 0))),
        ('rect.tif', geotiff_tags((0.5, 0.25, 0), projected(metre))),
        ('feet.tif', geotiff_tags((2, 2, 0), projected(foot))),
        ('degrees.tif', geotiff_tags((1e-5, 1e-5, 0), {model_type: 2})),
        ('plain.tif', None),
    ]:
        paths[name] = tmp_path / name
        Image.fromarray(image).save(
            paths[name], **({} if tags is None else dict(tiffinfo=tags)))
    cv2.imwrite(str(tmp_path / 'plain.png'), image)
    gsd = tool['geotiff_gsd']
    assert gsd(paths['metres.tif']) == ((0.5, 0.5), None)
    assert gsd(paths['rect.tif']) == ((0.5, 0.25), None)
    # The international foot is 0.3048 m.
    assert gsd(paths['feet.tif'])[0] == pytest.approx((0.6096, 0.6096))
    assert gsd(paths['degrees.tif'])[0] is None
    assert 'degrees.tif is in degrees' in gsd(paths['degrees.tif'])[1]
    assert gsd(paths['plain.tif']) == (None, None)
    assert gsd(tmp_path / 'plain.png') == (None, None)

    pair = tool['pair_gsd']
    assert pair(paths['metres.tif'], paths['rect.tif'],
                0.3) == ((0.3, 0.3), '--gsd', [], None)
    assert pair(paths['plain.tif'], paths['metres.tif'],
                None)[:3] == ((0.5, 0.5), 'GeoTIFF B', [])
    value, source, _, mismatch = pair(paths['metres.tif'], paths['rect.tif'],
                                      None)
    assert (value, source) == ((0.5, 0.5), 'GeoTIFF A')
    assert 'rect.tif (0.5 x 0.25 m) differ' in mismatch
    row = tool['csv_row']('x', np.eye(4, dtype=np.uint8), (0.5, 0.25),
                          'GeoTIFF A')
    assert row['changed_area_m2'] == '0.5'  # 4 pixels of 0.125 m2
    assert row['gsd_m'] == '0.5 x 0.25'


def test_folders_slide_and_skip_what_cannot_be_read(tmp_path, checkpoint,
                                                    crop_config):
    """Two folders: a pair larger than the training crop (slides), one of its
    size (whole), a GeoTIFF pair, a pair whose date A is no image and a file
    without a partner.

    The last two are named and skipped, the others written.
    """
    path, model = checkpoint
    root = tmp_path / 'in'
    dir_a, dir_b = write_pairs(root, ['big.png', 'bad.png', 'lonely.png'])
    write_pairs(root, ['small.png'], size=CROP, seed=1)
    write_pairs(root, ['geo.tif'], tags=geotiff_tags((0.5, 0.5, 0)), seed=2)
    (dir_a / 'bad.png').write_bytes(b'not an image')
    (dir_b / 'lonely.png').unlink()
    stride = (CROP // 2, CROP // 2)
    big, b = slide_reference(model, dir_a / 'big.png', dir_b / 'big.png',
                             (CROP, CROP), stride)
    threshold, options = threshold_options(big)
    out = tmp_path / 'out'
    result = run_tool(
        TOOL,
        dir_a,
        dir_b,
        '--config',
        crop_config,
        '--checkpoint',
        path,
        '--out',
        out,
        '--save-npy',
        '--device',
        'cpu',
        *options,
        check=False)
    assert result.returncode == 1, result.stderr
    stdout = result.stdout
    assert stdout.count('48x48 is larger than the training crop 32x32: '
                        'sliding 32x32 windows with stride 16') == 1
    assert stdout.count('32x32 is no larger than the training crop') == 1
    assert ('3 pair(s) (2 with sliding 32x32 windows, stride 16; 1 whole)'
            in stdout)
    # tqdm's progress bar; the skipped files by name, as they happen and
    # at the end.
    assert '4/4' in result.stderr
    assert f'skipped {dir_a / "lonely.png"}: no image' in result.stderr
    assert 'skipped bad.png: could not decode the image' in result.stderr
    assert (f'Skipped 2 input(s): {dir_a / "lonely.png"}, bad.png'
            in result.stderr)
    assert not (out / 'change' / 'bad.png').exists()
    assert not (out / 'change' / 'lonely.png').exists()

    row = check_outputs(out, 'big', big, threshold, b)
    # Which the whole image would not have given.
    whole, _ = whole_reference(model, dir_a / 'big.png', dir_b / 'big.png')
    assert np.abs(whole - big).max() > 1e-2
    assert row['changed_area_m2'] == row['gsd_m'] == row['gsd_from'] == ''
    small, b = whole_reference(model, dir_a / 'small.png', dir_b / 'small.png')
    check_outputs(out, 'small', small, threshold, b)
    geo, b = slide_reference(model, dir_a / 'geo.tif', dir_b / 'geo.tif',
                             (CROP, CROP), stride)
    row = check_outputs(out, 'geo', geo, threshold, b)
    assert float(row['changed_area_m2']) == int(row['changed_pixels']) * 0.25
    assert (row['gsd_m'], row['gsd_from']) == ('0.5', 'GeoTIFF A')
    assert 'Note: 2 pair(s) have no changed area in m2' in stdout


def run_in_process(*args):
    main = runpy.run_path(TOOL)['main']
    with pytest.raises(SystemExit) as exit:
        main([str(a) for a in args])
    return str(exit.value.code)


def test_a_file_and_a_folder_are_refused(tmp_path):
    dir_a, dir_b = write_pairs(tmp_path / 'in', ['p1.png'])
    error = run_in_process(dir_a / 'p1.png', dir_b, '--config', CONFIG,
                           '--checkpoint', 'x.pth', '--out', tmp_path)
    assert 'two images or two folders' in error


def test_one_pair_grey_and_rgba_whole_with_a_gsd(tmp_path, checkpoint,
                                                 crop_config, capsys):
    """One pair larger than the training crop inferred whole (--whole), date A
    grey and date B with an alpha channel: both are read as RGB (PIL's
    convert('RGB') is the reference) and one line of the output says so.

    The area in the CSV is the changed pixels times --gsd squared.
    """
    path, model = checkpoint
    dir_a, dir_b = write_pairs(tmp_path / 'in', ['scene.png'])
    a, b = dir_a / 'scene.png', dir_b / 'scene.png'
    cv2.imwrite(str(a), cv2.imread(str(a), cv2.IMREAD_GRAYSCALE))
    rgba = cv2.cvtColor(cv2.imread(str(b)), cv2.COLOR_BGR2BGRA)
    rgba[..., 3] = 128
    cv2.imwrite(str(b), rgba)
    assert Image.open(a).mode == 'L' and Image.open(b).mode == 'RGBA'
    distance, image_b = whole_reference(model, a, b)
    threshold, options = threshold_options(distance)
    out = tmp_path / 'out'
    # In this process, to save a start-up; the folder test runs the script.
    runpy.run_path(TOOL)['main']([
        str(a),
        str(b), '--config', crop_config, '--checkpoint',
        str(path), '--out',
        str(out), '--save-npy', '--device', 'cpu', '--whole', '--gsd', '0.3',
        *options
    ])
    row = check_outputs(out, 'scene', distance, threshold, image_b)
    assert int(row['changed_pixels']) > 0
    assert float(row['changed_area_m2']) == pytest.approx(
        int(row['changed_pixels']) * 0.3**2, rel=1e-9)
    assert (row['gsd_m'], row['gsd_from']) == ('0.3', '--gsd')
    stdout = capsys.readouterr().out
    assert 'inferring whole images (--whole)' in stdout
    assert '1 pair(s) (whole images)' in stdout
    notes = [line for line in stdout.splitlines() if 'not RGB' in line]
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
