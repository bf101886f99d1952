"""Write small synthetic MRI volumes in IXI's or fastMRI's on-disk layout.

    --layout ixi      OUT/{train,val,test}/IXI<nnn>-<site>-<id>-T2.nii.gz
    --layout fastmri  OUT/singlecoil_{train,val}/file<nnnnnnn>.h5

The IXI volumes are gzipped NIfTI-1 int16, axial slices along the third
axis, with an affine whose voxel size covers IXI's 240 mm field of view
(0.9375 mm at 256 x 256, 1.2 mm slices over 156 mm). The fastMRI files hold
what the single-coil knee files hold: ``kspace`` (slices, 2 * size, ~1.15 *
size) complex64 with the readout oversampled twice, ``reconstruction_esc``
and ``reconstruction_rss`` (slices, size, size) float32 (the magnitude image
cropped about its centre; 320 x 320 in the real data), the attributes
``acquisition``, ``max``, ``norm`` and ``patient_id`` and an ISMRMRD XML
header. ``mmzoo.IXIDataset`` and ``mmzoo.FastMRIDataset`` read them as they
read the real data.

Each volume is a brain-like phantom: the modified Shepp-Logan head
(ellipsoids for scalp, skull, grey and white matter and the ventricles, with
T2-like contrast: fluid brightest), randomly turned, scaled and shifted, with
a few random ellipsoidal lesions, a smooth tissue texture, a smooth bias
field, edges anti-aliased by 2x supersampling and a little Rician noise (the
fastMRI images also get a smooth phase). Sharp edges and fine structure are
what super-resolution and de-aliasing have to recover. Every volume is drawn
from a generator keyed by seed, split and index: the same seed writes
byte-identical files.
"""
import gzip
import io
from typing import Tuple

import h5py
import nibabel as nib
import numpy as np
from scipy import ndimage

from mmzoo.utils.fileio import atomic_write_bytes
from mmzoo.utils.synthetic import GeneratorParser, image_rng, non_negative_int

IXI_SPLITS = ('train', 'val', 'test')
FASTMRI_SPLITS = ('train', 'val')
IXI_SITES = ('Guys', 'HH', 'IOP')
# IXI T2: 256 x 256 x 130 voxels of 0.9375 x 0.9375 x 1.2 mm.
IXI_FOV_MM = (240.0, 240.0, 156.0)
# fastMRI knee: a 640 x 368 k-space for a 320 x 320 reconstruction of a
# 140 x 140 mm field of view, 3 mm slices.
FASTMRI_WIDTH_RATIO = 368 / 320
FASTMRI_FOV_MM = 140.0
FASTMRI_SLICE_MM = 3.0
# Signal scale of the int16 IXI volumes.
IXI_MAX = 1000.0
NOISE_SIGMA = 0.005

# (value added, semi-axes a, b, c, centre x, y, z, in-plane angle in
# degrees): the modified Shepp-Logan head in 3D with T2-like values.
HEAD = (
    (0.60, 0.69, 0.92, 0.90, 0.0, 0.0, 0.0, 0),  # scalp
    (-0.50, 0.6624, 0.874, 0.88, 0.0, -0.0184, 0.0, 0),  # skull: dark
    (0.40, 0.6324, 0.844, 0.86, 0.0, -0.0184, 0.0, 0),  # grey matter
    (-0.15, 0.52, 0.72, 0.66, 0.0, -0.03, 0.0, 0),  # white matter
    (0.60, 0.11, 0.31, 0.30, 0.22, 0.0, 0.05, -18),  # ventricles: fluid
    (0.60, 0.16, 0.41, 0.35, -0.22, 0.0, 0.05, 18),
    (0.15, 0.21, 0.25, 0.20, 0.0, 0.35, -0.1, 0),
    (0.20, 0.046, 0.046, 0.10, 0.0, 0.1, 0.0, 0),
    (0.20, 0.046, 0.046, 0.10, 0.0, -0.1, 0.0, 0),
    (0.20, 0.046, 0.023, 0.10, -0.08, -0.605, 0.0, 0),
    (0.20, 0.023, 0.023, 0.10, 0.0, -0.606, 0.0, 0),
    (0.20, 0.023, 0.046, 0.10, 0.06, -0.605, 0.0, 0),
)


def smooth_field(rng: np.random.Generator, shape: Tuple[int, ...],
                 cells: int) -> np.ndarray:
    """Zero-mean unit-variance noise varying over ``shape / cells``."""
    grid = rng.normal(size=tuple(cells + 1 for _ in shape))
    field = ndimage.zoom(
        grid, [n / (cells + 1) for n in shape], order=3, mode='nearest')
    field = field[tuple(slice(0, n) for n in shape)]
    return (field - field.mean()) / (field.std() + 1e-8)


def phantom(rng: np.random.Generator, size: int,
            num_slices: int) -> np.ndarray:
    """A (num_slices, size, size) brain-like magnitude volume in [0, ~1]."""
    fine = 2 * size
    # Pixel centres in [-1, 1]; rows run from the top (y = 1) down.
    axis = (np.arange(fine) + 0.5) / fine * 2 - 1
    zs = (np.arange(num_slices) + 0.5) / num_slices * 2 - 1
    z, y, x = np.meshgrid(zs, -axis, axis, indexing='ij')
    angle = np.radians(rng.uniform(-12, 12))
    zoom = rng.uniform(0.9, 1.05)
    dx, dy = rng.uniform(-0.04, 0.04, size=2)
    # Turn, scale and shift the head by mapping the sampling grid instead.
    cos, sin = np.cos(angle), np.sin(angle)
    xh = (cos * (x - dx) + sin * (y - dy)) / zoom
    yh = (-sin * (x - dx) + cos * (y - dy)) / zoom
    lesions = []
    for _ in range(rng.integers(3, 8)):
        value = rng.choice([-1, 1]) * rng.uniform(0.1, 0.35)
        a, b = rng.uniform(0.03, 0.12, size=2)
        c = rng.uniform(0.1, 0.4)
        # Inside the brain: a radius and a direction in the head's plane.
        radius, theta = rng.uniform(0, 0.45), rng.uniform(0, 2 * np.pi)
        x0, y0 = radius * np.cos(theta), 1.2 * radius * np.sin(theta)
        z0, degrees = rng.uniform(-0.5, 0.5), rng.uniform(0, 180)
        lesions.append((value, a, b, c, x0, y0, z0, degrees))
    volume = np.zeros(x.shape)
    for value, a, b, c, x0, y0, z0, degrees in (*HEAD, *lesions):
        phi = np.radians(degrees)
        u = (xh - x0) * np.cos(phi) + (yh - y0) * np.sin(phi)
        v = -(xh - x0) * np.sin(phi) + (yh - y0) * np.cos(phi)
        inside = (u / a)**2 + (v / b)**2 + ((z - z0) / c)**2 <= 1
        volume += value * inside
    brain = volume > 0.25
    texture = 1 + 0.08 * smooth_field(rng, volume.shape[1:], 12)
    bias = 1 + 0.1 * smooth_field(rng, volume.shape[1:], 2)
    volume = np.where(brain, volume * texture, volume) * bias
    # 2 x 2 supersampling: edges get partial-volume values as in a scan.
    volume = volume.reshape(num_slices, size, 2, size, 2).mean((2, 4))
    return np.clip(volume, 0, None)


def rician(rng: np.random.Generator, image: np.ndarray) -> np.ndarray:
    """The magnitude of ``image`` with complex Gaussian noise added."""
    noise = rng.normal(0, NOISE_SIGMA, size=(2, *image.shape))
    return np.hypot(image + noise[0], noise[1])


def ixi_volume(rng: np.random.Generator, size: int,
               num_slices: int) -> nib.Nifti1Image:
    """A NIfTI volume whose slice ``data[:, :, k]``, as ``LoadIXISlice`` turns
    it, is the phantom's slice k."""
    volume = rician(rng, phantom(rng, size, num_slices))
    data = np.rot90(volume.transpose(1, 2, 0), k=-1, axes=(0, 1))
    data = np.round(data * IXI_MAX).astype(np.int16)
    voxel = np.array([
        IXI_FOV_MM[0] / size, IXI_FOV_MM[1] / size, IXI_FOV_MM[2] / num_slices
    ])
    affine = np.diag([*voxel, 1.0])
    affine[:3, 3] = -(np.array(data.shape) - 1) / 2 * voxel
    image = nib.Nifti1Image(np.ascontiguousarray(data), affine)
    image.header.set_xyzt_units('mm')
    image.set_qform(affine, code=1)
    image.set_sform(affine, code=1)
    return image


def ismrmrd_header(rows: int, cols: int, size: int, num_slices: int) -> str:
    fov = FASTMRI_FOV_MM
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<ismrmrdHeader xmlns="http://www.ismrm.org/ISMRMRD">'
        '<encoding><trajectory>cartesian</trajectory>'
        f'<encodedSpace><matrixSize><x>{rows}</x><y>{cols}</y><z>1</z>'
        f'</matrixSize><fieldOfView_mm><x>{2 * fov}</x><y>'
        f'{fov * cols / size}</y><z>{FASTMRI_SLICE_MM}</z></fieldOfView_mm>'
        '</encodedSpace>'
        f'<reconSpace><matrixSize><x>{size}</x><y>{size}</y><z>1</z>'
        f'</matrixSize><fieldOfView_mm><x>{fov}</x><y>{fov}</y><z>'
        f'{FASTMRI_SLICE_MM}</z></fieldOfView_mm></reconSpace>'
        f'<encodingLimits><slice><minimum>0</minimum><maximum>'
        f'{num_slices - 1}</maximum><center>0</center></slice>'
        '</encodingLimits></encoding></ismrmrdHeader>')


def fastmri_file(rng: np.random.Generator, size: int,
                 num_slices: int) -> bytes:
    """A single-coil fastMRI file's bytes: the phantom with a smooth phase, on
    a canvas oversampled twice along the readout (rows)."""
    rows, cols = 2 * size, 2 * round(size * FASTMRI_WIDTH_RATIO / 2)
    magnitude = phantom(rng, size, num_slices)
    canvas = np.zeros((num_slices, rows, cols), np.complex128)
    top, left = (rows - size) // 2, (cols - size) // 2
    phase = np.pi * 0.5 * smooth_field(rng, (size, size), 3)
    canvas[:, top:top + size,
           left:left + size] = magnitude * np.exp(1j * phase)
    # fastMRI's fft2c: centred and orthonormal.
    kspace = np.fft.fftshift(
        np.fft.fft2(np.fft.ifftshift(canvas, axes=(1, 2)), norm='ortho'),
        axes=(1, 2))
    noise = rng.normal(0, NOISE_SIGMA, size=(2, *kspace.shape))
    kspace = (kspace + noise[0] + 1j * noise[1]).astype(np.complex64)
    image = np.abs(
        np.fft.fftshift(
            np.fft.ifft2(np.fft.ifftshift(kspace, axes=(1, 2)), norm='ortho'),
            axes=(1, 2)))
    recon = image[:, top:top + size, left:left + size].astype(np.float32)
    buffer = io.BytesIO()
    with h5py.File(buffer, 'w') as f:
        f.create_dataset('kspace', data=kspace, track_times=False)
        f.create_dataset('reconstruction_esc', data=recon, track_times=False)
        f.create_dataset('reconstruction_rss', data=recon, track_times=False)
        f.create_dataset(
            'ismrmrd_header',
            data=ismrmrd_header(rows, cols, size, num_slices).encode(),
            track_times=False)
        f.attrs['acquisition'] = 'CORPD_FBK'
        f.attrs['max'] = float(recon.max())
        f.attrs['norm'] = float(np.linalg.norm(recon))
        f.attrs['patient_id'] = f'{rng.integers(16**12):012x}'
    return buffer.getvalue()


def main(argv=None):
    parser = GeneratorParser(__doc__.splitlines()[0])
    parser.add_argument(
        '--layout',
        choices=('ixi', 'fastmri'),
        default='ixi',
        help='on-disk layout: IXI T2 NIfTI volumes or fastMRI single-coil '
        'h5 files')
    parser.add_argument(
        '--size',
        type=int,
        default=64,
        help='side of the (reconstructed) image in pixels; the real data '
        'have 256 (IXI) and 320 (fastMRI)')
    parser.add_argument(
        '--slices', type=int, default=20, help='slices per volume')
    for split, default in zip(IXI_SPLITS, (8, 2, 2)):
        parser.add_argument(
            f'--num-{split}',
            type=non_negative_int,
            default=default,
            help=f'number of {split} volumes' +
            (' (IXI layout only)' if split == 'test' else ''))
    args = parser.parse_args(argv)
    if args.size < 16 or args.size % 8:
        parser.error(f'--size must be a multiple of 8 of at least 16, got '
                     f'{args.size}')
    if args.slices < 1:
        parser.error(f'--slices must be positive, got {args.slices}')
    out = parser.output_dir(args)

    splits = IXI_SPLITS if args.layout == 'ixi' else FASTMRI_SPLITS
    number = 0
    for split in splits:
        for index in range(getattr(args, f'num_{split}')):
            number += 1
            rng = image_rng(args.seed, split, index)
            if args.layout == 'ixi':
                site = IXI_SITES[number % len(IXI_SITES)]
                name = f'IXI{number:03d}-{site}-{rng.integers(10000):04d}-T2'
                image = ixi_volume(rng, args.size, args.slices)
                data = gzip.compress(image.to_bytes(), mtime=0)
                atomic_write_bytes(data, out / split / f'{name}.nii.gz')
            else:
                atomic_write_bytes(
                    fastmri_file(rng, args.size, args.slices),
                    out / f'singlecoil_{split}' / f'file{1000000 + number}.h5')
    counts = '/'.join(str(getattr(args, f'num_{s}')) for s in splits)
    print(f'Wrote {counts} {"/".join(splits)} {args.layout} volumes of '
          f'{args.slices} slices of {args.size}x{args.size} to {out}')


if __name__ == '__main__':
    main()
