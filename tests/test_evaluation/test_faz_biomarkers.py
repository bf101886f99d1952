"""FAZ area, perimeter and circularity on shapes whose values are known."""
import math

import numpy as np
import pytest

from mmzoo.evaluation.functional import faz_biomarkers


def disc(size, radius, centre):
    yy, xx = np.mgrid[:size, :size]
    return (yy - centre[0])**2 + (xx - centre[1])**2 <= radius**2


@pytest.mark.parametrize('radius', [30, 45])
def test_disc(radius):
    """A disc of radius r pixels at 0.01 mm: area pi r^2, perimeter 2 pi r,
    circularity 1, within the digitisation's 1%."""
    spacing = 0.01
    area, perimeter, circularity = faz_biomarkers(
        disc(128, radius, (60.3, 66.7)), spacing)
    r = radius * spacing
    assert area == pytest.approx(math.pi * r**2, rel=0.01)
    assert perimeter == pytest.approx(2 * math.pi * r, rel=0.01)
    assert circularity == pytest.approx(1, abs=0.02)


def test_square():
    """A 40 x 40 square of 0.015 mm pixels: area exactly 0.36 mm^2; the
    4-direction Crofton perimeter of a side-n square is pi times its mean width
    over the directions 0, 45, 90 and 135 degrees, pi (1 + sqrt 2) / 2 n (the
    bias the docstring states)."""
    mask = np.zeros((64, 64), np.uint8)
    mask[10:50, 12:52] = 1
    area, perimeter, circularity = faz_biomarkers(mask, (0.015, 0.015))
    assert area == pytest.approx(0.36, rel=1e-12)
    crofton = math.pi * (1 + math.sqrt(2)) / 2 * 40 * 0.015
    assert perimeter == pytest.approx(crofton, rel=0.01)
    assert circularity == pytest.approx(
        4 * math.pi * 0.36 / crofton**2, rel=0.02)


def test_scales_with_spacing_and_ignores_position():
    small = faz_biomarkers(disc(100, 20, (50, 50)), 0.01)
    # Touching the border: still a closed region, with the same measures.
    at_edge = faz_biomarkers(disc(100, 20, (20, 50)), 0.01)
    large = faz_biomarkers(disc(100, 20, (50, 50)), 0.03)
    assert at_edge == pytest.approx(small, rel=1e-12)
    assert large.area_mm2 == pytest.approx(9 * small.area_mm2)
    assert large.perimeter_mm == pytest.approx(3 * small.perimeter_mm)
    assert large.circularity == pytest.approx(small.circularity)


def test_empty_mask_and_bad_input():
    area, perimeter, circularity = faz_biomarkers(np.zeros((8, 8)), 0.01)
    assert (area, perimeter) == (0, 0) and math.isnan(circularity)
    with pytest.raises(ValueError, match='square pixels'):
        faz_biomarkers(np.ones((8, 8)), (0.01, 0.02))
    with pytest.raises(ValueError, match=r'2-D .*\(2, 8, 8\)'):
        faz_biomarkers(np.ones((2, 8, 8)), 0.01)
