"""Restore a low-resolution, undersampled MRI volume with a trained T2Net.

    python tools/infer_mri.py CONFIG CHECKPOINT INPUT OUT_DIR [--device cpu]
        [--no-panels]

INPUT is what a scanner acquiring with the model's degradation gives:

- a NIfTI volume (``.nii``, ``.nii.gz``), 3-D (rows, cols, slices): the
  magnitude of the zero-filled low-resolution k-space of every axial slice,
  in the layout of IXI (slice k is ``data[:, :, k]``, read in the
  orientation the IXI loader trains in);
- a fastMRI-style ``.h5`` file whose ``kspace`` (slices, rows, cols, complex)
  holds the undersampled low-resolution k-space, zeros where not sampled;
  each slice's input is the magnitude of its centred inverse FFT.

Each slice is standardised by its own mean and standard deviation (the
training pipeline standardises with the fully sampled slice's, which
inference does not have), restored, and brought back to the input's units.
It writes, atomically:

    OUT_DIR/NAME_sr.nii.gz      the super-resolved volume (rows·s, cols·s,
                                slices); its affine is the input's with
                                the in-plane voxel size divided by the
                                scale s (low-resolution pixel m lies on
                                high-resolution pixel s·m, so the origin
                                stays)
    OUT_DIR/NAME_recon.nii.gz   the reconstruction branch's low-resolution
                                volume, with the input's affine
    OUT_DIR/panels/NAME_sliceK.png  zero-filled input | reconstruction | SR

An ``.h5`` file carries no affine: its voxel size comes from the ISMRMRD
header's field of view and matrix size when present (as the fastMRI dataset
reads it), otherwise 1 mm.
"""
import gzip
import io
import os.path as osp
from pathlib import Path

import h5py
import nibabel as nib
import numpy as np
import torch
from tqdm import tqdm

from mmzoo.apis import InputError, inference_parser, load_model, png_bytes
from mmzoo.datasets.fastmri import recon_voxel_size
from mmzoo.datasets.transforms.kspace import to_image
from mmzoo.utils.fileio import atomic_write_bytes
from mmzoo.visualization import reconstruction_panel

NIFTI_SUFFIXES = ('.nii', '.nii.gz')
NORM_EPS = 1e-11


def parse_args(argv=None):
    parser = inference_parser(__doc__)
    parser.add_argument('config', help='model config')
    parser.add_argument('checkpoint', help='checkpoint')
    parser.add_argument('input', help='NIfTI volume or fastMRI .h5 file')
    parser.add_argument('out_dir', help='output folder')
    parser.add_argument(
        '--no-panels', action='store_true', help='do not write PNG panels')
    return parser.parse_args(argv)


def stem(path: Path) -> str:
    name = path.name
    for suffix in (*NIFTI_SUFFIXES, '.h5'):
        if name.endswith(suffix):
            return name[:-len(suffix)]
    return path.stem


def read_nifti(path: Path):
    """Slices (slices, rows, cols) as the IXI loader orients them, and the
    affine."""
    try:
        image = nib.load(str(path))
        data = np.asarray(image.dataobj, np.float32)
    except Exception as error:  # nibabel raises many kinds
        raise InputError(f'{path} is not a readable NIfTI volume: {error}')
    if data.ndim != 3:
        raise InputError(f'{path}: expected a 3-D volume (rows, cols, '
                         f'slices), got shape {data.shape}')
    slices = np.stack([np.rot90(data[:, :, k]) for k in range(data.shape[2])])
    return slices, image.affine


def read_h5(path: Path):
    """Zero-filled magnitude slices of an .h5 file's k-space, and an affine
    from its header's voxel size."""
    try:
        f = h5py.File(str(path), 'r')
    except OSError as error:
        raise InputError(f'{path} is not a readable HDF5 file: {error}')
    with f:
        if 'kspace' not in f:
            raise InputError(f'{path} has no dataset "kspace"; found '
                             f'{sorted(f.keys())}')
        kspace = f['kspace']
        if not np.issubdtype(kspace.dtype, np.complexfloating):
            raise InputError(f'{path}: kspace must be complex, got '
                             f'{kspace.dtype}')
        if kspace.ndim != 3:
            raise InputError(f'{path}: kspace must be (slices, rows, cols), '
                             f'got shape {kspace.shape}')
        slices = np.abs(to_image(kspace[()])).astype(np.float32)
        voxel = (1.0, 1.0, 1.0)
        if 'ismrmrd_header' in f:
            try:
                voxel = recon_voxel_size(str(path), f['ismrmrd_header'][()])
            except (ValueError, AttributeError, KeyError):
                pass  # a header without the sizes: 1 mm, as documented
    return slices, np.diag([*voxel, 1.0])


def read_input(path: Path):
    if not path.is_file():
        raise InputError(f'{path} does not exist or is not a file')
    if path.name.endswith(NIFTI_SUFFIXES):
        return read_nifti(path)
    if path.name.endswith('.h5'):
        return read_h5(path)
    raise InputError(f'{path} is neither a NIfTI volume (.nii, .nii.gz) nor '
                     'a fastMRI file (.h5)')


@torch.no_grad()
def restore(model, image: np.ndarray, device: str):
    """(SR, reconstruction) of one zero-filled slice, in its units."""
    mean, std = float(image.mean()), float(image.std()) + NORM_EPS
    inputs = torch.from_numpy((image - mean) / std)[None, None].to(device)
    sr, recon = model(inputs.float(), mode='tensor')
    return (sr[0, 0].cpu().numpy() * std + mean,
            recon[0, 0].cpu().numpy() * std + mean)


def nifti_bytes(slices: np.ndarray, affine: np.ndarray,
                rotated: bool) -> bytes:
    """Gzipped NIfTI of (slices, rows, cols) in the (rows, cols, slices) layout
    of the input (turned back where the reader turned it)."""
    volume = np.stack([np.rot90(s, -1) if rotated else s for s in slices],
                      axis=2)
    buffer = io.BytesIO()
    image = nib.Nifti1Image(volume.astype(np.float32), affine)
    image.to_file_map(nib.Nifti1Image.make_file_map({'image': buffer}))
    return gzip.compress(buffer.getvalue(), mtime=0)


def main(argv=None):
    args = parse_args(argv)
    path = Path(args.input)
    try:
        slices, affine = read_input(path)
        _, model = load_model(args.config, args.checkpoint, args.device,
                              args.cfg_options)
    except InputError as error:
        raise SystemExit(f'error: {error}')
    scale = model.scale
    out, name = Path(args.out_dir), stem(path)
    srs, recons = [], []
    for k, image in enumerate(
            tqdm(slices, unit='slice', desc=path.name, disable=None)):
        sr, recon = restore(model, image, args.device)
        srs.append(sr)
        recons.append(recon)
        if not args.no_panels:
            atomic_write_bytes(
                png_bytes(reconstruction_panel(image, recon, sr)),
                out / 'panels' / f'{name}_slice{k:03d}.png')
    sr_affine = affine.copy()
    sr_affine[:3, :2] /= scale
    rotated = not path.name.endswith('.h5')
    atomic_write_bytes(
        nifti_bytes(np.stack(srs), sr_affine, rotated),
        out / f'{name}_sr.nii.gz')
    atomic_write_bytes(
        nifti_bytes(np.stack(recons), affine, rotated),
        out / f'{name}_recon.nii.gz')
    print(f'Restored {len(slices)} slice(s) of {path} x{scale}: '
          f'{osp.abspath(out / (name + "_sr.nii.gz"))}')


if __name__ == '__main__':
    main()
