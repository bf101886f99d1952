"""HD95 and ASSD: mmzoo's surface distances against medpy's.

    python benchmarks/surface_distance.py [--num 200] [--size 304]
        [--spacing 0.00987] [--repeats 3] [--seed 0]

The masks are FAZ-like: per pair, a ground-truth blob near the image centre
(an ellipse whose radius varies smoothly with the angle, a few hundred to a
few thousand pixels as a foveal avascular zone on a 3 mm OCTA scan) and a
prediction that is the same shape shifted, resized and reshaped a little,
seeded so that every run sees the same masks. The spacing defaults to
OCTA-500's 3 mm scans (3 mm over 304 pixels).

For each pair the script first checks that ours
(``mmzoo.evaluation.functional.hd95`` and ``assd``) gives exactly medpy's
values (``medpy.metric.binary.hd95`` and ``assd`` with ``voxelspacing``),
then times both over all pairs (median of ``--repeats``, taking turns) and
prints ``ratio = medpy / ours`` (above 1: ours is faster). Ours is timed
twice: ``hd95`` and ``assd`` called one after the other, as medpy's are, and
``surface_scores``, which returns both from one computation of the surface
distances (what ``mmzoo.OCTAMetric`` calls).
"""
import argparse
import platform
import statistics
import sys
import time

import numpy as np
import scipy
from medpy.metric import binary as medpy_binary

from mmzoo.evaluation.functional import assd, hd95, surface_scores


def blob(size, centre, radius, harmonics):
    """A star-shaped mask: radius(theta) = radius * (1 + sum of harmonics)."""
    yy, xx = np.mgrid[:size, :size].astype(np.float64)
    dy, dx = yy - centre[0], xx - centre[1]
    theta = np.arctan2(dy, dx)
    scale = 1 + sum(a * np.cos(k * theta + phase) for k, a, phase in harmonics)
    return np.hypot(dy, dx) <= radius * scale


def faz_pairs(num, size, seed):
    rng = np.random.default_rng(seed)
    pairs = []
    for _ in range(num):
        centre = size / 2 + rng.normal(0, size / 40, 2)
        radius = rng.uniform(0.05, 0.15) * size
        harmonics = [(k, rng.uniform(0, 0.25 / k), rng.uniform(0, 2 * np.pi))
                     for k in range(2, 6)]
        gt = blob(size, centre, radius, harmonics)
        wobble = [(k, a + rng.normal(0, 0.03), phase + rng.normal(0, 0.2))
                  for k, a, phase in harmonics]
        pred = blob(size, centre + rng.normal(0, 2, 2),
                    radius * rng.uniform(0.9, 1.1), wobble)
        pairs.append((pred, gt))
    return pairs


def ours_separately(pairs, spacing):
    return [(hd95(p, g, spacing), assd(p, g, spacing)) for p, g in pairs]


def ours_together(pairs, spacing):
    return [surface_scores(p, g, spacing) for p, g in pairs]


def medpy(pairs, spacing):
    return [(medpy_binary.hd95(p, g, voxelspacing=spacing),
             medpy_binary.assd(p, g, voxelspacing=spacing)) for p, g in pairs]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--num', type=int, default=200)
    parser.add_argument('--size', type=int, default=304)
    parser.add_argument('--spacing', type=float, default=3 / 304)
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args()
    pairs = faz_pairs(args.num, args.size, args.seed)
    areas = [int(g.sum()) for _, g in pairs]
    print(f'numpy {np.__version__}, scipy {scipy.__version__}, '
          f'{platform.processor() or "cpu"}; {args.num} pairs of '
          f'{args.size}x{args.size}, FAZ {min(areas)}-{max(areas)} pixels, '
          f'spacing {args.spacing:.5f} mm')
    expected = medpy(pairs, args.spacing)
    ours = {
        'ours: hd95 + assd': ours_separately,
        'ours: surface_scores': ours_together
    }
    mismatches = 0
    for name, fn in ours.items():
        got = fn(pairs, args.spacing)
        differ = sum(a != b for a, b in zip(got, expected))
        print(f'{name}: identical HD95 and ASSD on every pair: '
              f'{"yes" if not differ else f"NO, {differ} differ"}')
        mismatches += differ
    fns = {'medpy': medpy, **ours}
    times = {name: [] for name in fns}
    for _ in range(args.repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn(pairs, args.spacing)
            times[name].append(time.perf_counter() - start)
    t = {name: statistics.median(values) for name, values in times.items()}
    print(f'HD95 + ASSD of {args.num} pairs, medpy {t["medpy"]:.3f} s')
    for name in ours:
        print(f'  {name:22s} {t[name]:.3f} s   '
              f'ratio = {t["medpy"] / t[name]:.1f}')
    sys.exit(1 if mismatches else 0)


if __name__ == '__main__':
    main()
