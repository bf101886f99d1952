"""Pictures of BSDA-Net's predictions on an OCTA image: FAZ contours, the
boundary heatmap and the signed distance map side by side under a title with
the diagnosis.

Everything takes and returns numpy arrays (images H x W x 3 uint8 RGB or H x W
grey, masks H x W 0/1), so the same functions serve ``mmzoo.OCTAVisualizer``
(``tools/test.py --show-dir``) and ``tools/infer_octa.py``.
"""
from typing import List, Optional, Sequence

import cv2
import numpy as np

from .change_map import hstack_panels, overlay_changes

PREDICTED = (255, 40, 40)
TRUE = (40, 220, 70)
# The ends of the distance map's colour scale: ColorBrewer's RdBu, blue
# inside the FAZ (negative distances), red outside.
INSIDE = (33, 102, 172)
OUTSIDE = (178, 24, 43)
TITLE_HEIGHT = 20  # per line of the title
TITLE_FONT = cv2.FONT_HERSHEY_SIMPLEX
TITLE_SCALE = 0.45


def _rgb(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[..., 0]
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f'expected an H x W grey or H x W x 3 RGB uint8 '
                         f'image, got {image.dtype} of shape {image.shape}')
    return image


def _check_map(values, shape, name: str) -> np.ndarray:
    values = np.asarray(values)
    if values.shape != tuple(shape):
        raise ValueError(f'the {name} has shape {values.shape}, expected '
                         f'{tuple(shape)} (the image height and width)')
    return values


def faz_contours(image: np.ndarray,
                 pred: Optional[np.ndarray] = None,
                 gt: Optional[np.ndarray] = None) -> np.ndarray:
    """The image with the true FAZ outlined in green and the predicted one in
    red, drawn last so that it shows where both coincide.

    Args:
        image (np.ndarray): H x W grey or H x W x 3 RGB, uint8.
        pred (np.ndarray, optional): H x W predicted mask, nonzero on the
            FAZ.
        gt (np.ndarray, optional): H x W ground-truth mask.

    Returns:
        np.ndarray: H x W x 3 uint8 RGB.
    """
    out = _rgb(image)
    for mask, colour, name in ((gt, TRUE, 'ground truth'), (pred, PREDICTED,
                                                            'prediction')):
        if mask is not None:
            mask = _check_map(mask, out.shape[:2], name)
            out = overlay_changes(out, mask, colour, alpha=0)
    return out


def heatmap_to_image(heatmap: np.ndarray) -> np.ndarray:
    """A boundary heatmap in [0, 1] in the inferno colour map (black 0, yellow-
    white 1), H x W x 3 uint8 RGB."""
    grey = np.round(np.clip(np.asarray(heatmap, np.float64), 0, 1) * 255)
    bgr = cv2.applyColorMap(grey.astype(np.uint8), cv2.COLORMAP_INFERNO)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def sdm_to_image(sdm: np.ndarray) -> np.ndarray:
    """A signed distance map in [-1, 1] (negative inside the FAZ) on a
    diverging scale: -1 blue, 0 (the boundary) white, 1 red; values beyond are
    clipped.

    H x W x 3 uint8 RGB.
    """
    t = np.clip(np.asarray(sdm, np.float64), -1, 1)[..., None]
    end = np.where(t < 0, np.asarray(INSIDE, np.float64),
                   np.asarray(OUTSIDE, np.float64))
    out = 255 + np.abs(t) * (end - 255)
    return np.round(out).astype(np.uint8)


def class_name(classes: Optional[Sequence[str]], index: int) -> str:
    """The name of class ``index``, or 'class <index>' where ``classes`` does
    not name it."""
    index = int(index)
    if classes is not None and 0 <= index < len(classes):
        return str(classes[index])
    return f'class {index}'


def class_title(classes: Optional[Sequence[str]],
                pred_class: Optional[int] = None,
                score: Optional[float] = None,
                gt_class: Optional[int] = None) -> str:
    """'predicted DR (87%) | true NORMAL', with class indices where no names
    are given and the parts that are missing left out."""
    parts = []
    if pred_class is not None:
        parts.append(f'predicted {class_name(classes, pred_class)}' + (
            f' ({100 * float(score):.0f}%)' if score is not None else ''))
    if gt_class is not None:
        parts.append(f'true {class_name(classes, gt_class)}')
    return ' | '.join(parts)


def _title_lines(title: str, width: int) -> List[str]:
    """``title`` broken at spaces into lines that fit ``width`` pixels (a word
    longer than that gets a line of its own)."""
    lines: List[str] = []
    for word in title.split():
        candidate = f'{lines[-1]} {word}' if lines else word
        fits = cv2.getTextSize(candidate, TITLE_FONT, TITLE_SCALE,
                               1)[0][0] <= width - 8
        if lines and fits:
            lines[-1] = candidate
        else:
            lines.append(word)
    return lines or ['']


def _titled(panel: np.ndarray, title: str) -> np.ndarray:
    lines = _title_lines(title, panel.shape[1])
    strip = np.full((TITLE_HEIGHT * len(lines), panel.shape[1], 3), 255,
                    np.uint8)
    for row, line in enumerate(lines):
        cv2.putText(strip, line, (4, TITLE_HEIGHT * (row + 1) - 6), TITLE_FONT,
                    TITLE_SCALE, (0, 0, 0), 1, cv2.LINE_AA)
    return np.concatenate([strip, panel], axis=0)


def octa_panel(image: np.ndarray,
               pred: Optional[np.ndarray] = None,
               heatmap: Optional[np.ndarray] = None,
               sdm: Optional[np.ndarray] = None,
               gt: Optional[np.ndarray] = None,
               title: str = '') -> np.ndarray:
    """One picture of an OCTA image: contours | heatmap | distance map.

    The first panel is :func:`faz_contours` (predicted red, true green), then
    :func:`heatmap_to_image` and :func:`sdm_to_image` where those maps are
    given; a white strip on top carries ``title`` (see
    :func:`class_title`), in as many lines as the width needs.

    Args:
        image (np.ndarray): H x W grey or H x W x 3 RGB, uint8.
        pred (np.ndarray, optional): H x W predicted FAZ mask.
        heatmap (np.ndarray, optional): H x W predicted boundary heatmap.
        sdm (np.ndarray, optional): H x W predicted signed distance map.
        gt (np.ndarray, optional): H x W ground-truth FAZ mask.
        title (str): Text above the panels. Defaults to ''.

    Returns:
        np.ndarray: (title lines + caption + H) x (k W + gaps) x 3 uint8
        RGB.
    """
    contours = faz_contours(image, pred, gt)
    shape = contours.shape[:2]
    caption = ', '.join(name for mask, name in ((pred, 'predicted red'),
                                                (gt, 'true green'))
                        if mask is not None)
    panels = [(f'FAZ: {caption}' if caption else 'image', contours)]
    if heatmap is not None:
        panels.append(('boundary heatmap',
                       heatmap_to_image(_check_map(heatmap, shape,
                                                   'heatmap'))))
    if sdm is not None:
        panels.append(('signed distance',
                       sdm_to_image(_check_map(sdm, shape, 'distance map'))))
    return _titled(hstack_panels(panels), title)
