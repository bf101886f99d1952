"""T2Net through tools/train.py and tools/test.py on generated IXI-style
volumes: it has to restore them better than zero filling and bicubic
interpolation do, not just run."""
import glob
import json
import os.path as osp
import textwrap

from mmzoo_testing import REPO, TRAIN_SEED, run_tool

ITERS = 600

# The demo config on the fixture's volumes, without worker processes.
OVERRIDES = """
data_root = '{data}'
train_dataloader = dict(
    num_workers=0, persistent_workers=False,
    dataset=dict(data_root=data_root))
val_dataloader = dict(
    num_workers=0, persistent_workers=False,
    dataset=dict(data_root=data_root))
test_dataloader = dict(
    num_workers=0, persistent_workers=False,
    dataset=dict(data_root=data_root))
"""


def test_t2net_beats_zero_filled_bicubic(synthetic_mri, tmp_path):
    config = tmp_path / 't2net.py'
    base = osp.join(
        REPO, 'configs/t2net/t2net_edsr-c32b2_1xb8-600iter_synthixi-64x64.py')
    config.write_text(f"_base_ = '{base}'\n" +
                      textwrap.dedent(OVERRIDES.format(data=synthetic_mri)))
    work_dir = tmp_path / 'work'
    run_tool('tools/train.py', config, '--work-dir', work_dir, '--cfg-options',
             f'randomness.seed={TRAIN_SEED}')
    checkpoint = work_dir / f'iter_{ITERS}.pth'
    assert checkpoint.is_file()

    run_tool('tools/test.py', config, checkpoint, '--work-dir',
             tmp_path / 'test', '--show-dir', tmp_path / 'panels')
    (path, ) = glob.glob(osp.join(tmp_path, 'test', '*', '*.json'))
    with open(path) as f:
        metrics = json.load(f)
    # The zero-filled input bicubically upsampled is what T2Net must beat
    # on the held-out volumes, by at least 2 dB.
    assert metrics['sr_psnr'] >= metrics['zf_bicubic_psnr'] + 2, metrics
    assert metrics['sr_ssim'] > metrics['zf_bicubic_ssim'], metrics
    panels = glob.glob(osp.join(tmp_path, 'panels', '*.png'))
    assert len(panels) == 12  # 2 test volumes x 6 slices
