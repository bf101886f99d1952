"""Pictures of change maps: overlays, distance maps and side-by-side panels.

Everything takes and returns numpy arrays: RGB images H x W x 3 uint8, change
maps H x W with 0 (unchanged) and 1 (changed), so the same functions serve the
inference CLI, the validation hook and notebooks.
"""
from typing import Optional, Sequence, Tuple

import cv2
import numpy as np

RGB = Tuple[int, int, int]

# Colours of the error panel, as change-detection papers draw them.
TRUE_POSITIVE = (255, 255, 255)
FALSE_POSITIVE = (230, 40, 40)
FALSE_NEGATIVE = (40, 200, 60)
IGNORED = (110, 110, 110)
CAPTION_HEIGHT = 16


def _check_map(change: np.ndarray, shape, name: str) -> np.ndarray:
    change = np.asarray(change)
    if change.shape != tuple(shape):
        raise ValueError(f'{name} has shape {change.shape}, expected '
                         f'{tuple(shape)} (the image height and width)')
    return change


def overlay_changes(image: np.ndarray,
                    change: np.ndarray,
                    colour: RGB = (255, 0, 0),
                    alpha: float = 0.45,
                    contour: bool = True) -> np.ndarray:
    """Draw changed pixels over ``image`` as a translucent colour with its
    outline, so that the building underneath stays visible.

    Args:
        image (np.ndarray): RGB image, H x W x 3 uint8 (date B, usually).
        change (np.ndarray): H x W, nonzero where changed.
        colour (tuple[int]): RGB colour of the changes.
        alpha (float): Opacity of the fill.
        contour (bool): Also draw the outline, fully opaque.

    Returns:
        np.ndarray: The overlay, H x W x 3 uint8.
    """
    mask = _check_map(change, image.shape[:2], 'change map') > 0
    out = image.astype(np.float32)
    out[mask] = (1 - alpha) * out[mask] + alpha * np.asarray(colour)
    out = np.round(out).astype(np.uint8)
    if contour and mask.any():
        contours, _ = cv2.findContours(
            mask.astype(np.uint8), cv2.RETR_LIST, cv2.CHAIN_APPROX_NONE)
        cv2.drawContours(out, contours, -1, tuple(map(int, colour)), 1)
    return out


def distance_to_image(distance: np.ndarray, vmax: float = 2.0) -> np.ndarray:
    """Scale a distance map linearly to 0-255 grey, ``vmax`` and beyond white;
    with the default, STANet's threshold 1 is mid-grey (128).

    Args:
        distance (np.ndarray): H x W non-negative distances.
        vmax (float): Distance drawn white. Defaults to 2.0, the margin of
            STANet's contrastive loss.

    Returns:
        np.ndarray: H x W uint8.
    """
    if vmax <= 0:
        raise ValueError(f'vmax must be positive, got {vmax}')
    scaled = np.clip(np.asarray(distance, np.float64) / vmax, 0, 1) * 255
    return np.round(scaled).astype(np.uint8)


def label_image(label: np.ndarray, ignore_index: int = 255) -> np.ndarray:
    """A 0/1 label as RGB: changed white, unchanged black, ignored grey."""
    out = np.zeros((*label.shape, 3), np.uint8)
    out[label == 1] = TRUE_POSITIVE
    out[label == ignore_index] = IGNORED
    return out


def error_image(pred: np.ndarray,
                label: np.ndarray,
                ignore_index: int = 255) -> np.ndarray:
    """A prediction coloured by its agreement with the label: true changes
    white, false alarms red, misses green, ignored pixels grey."""
    label = _check_map(label, pred.shape, 'label')
    out = np.zeros((*pred.shape, 3), np.uint8)
    out[(pred == 1) & (label == 1)] = TRUE_POSITIVE
    out[(pred == 1) & (label == 0)] = FALSE_POSITIVE
    out[(pred == 0) & (label == 1)] = FALSE_NEGATIVE
    out[label == ignore_index] = IGNORED
    return out


def _captioned(image: np.ndarray, caption: str) -> np.ndarray:
    strip = np.full((CAPTION_HEIGHT, image.shape[1], 3), 32, np.uint8)
    cv2.putText(strip, caption, (3, CAPTION_HEIGHT - 4),
                cv2.FONT_HERSHEY_SIMPLEX, 0.4, (235, 235, 235), 1, cv2.LINE_AA)
    return np.concatenate([strip, image], axis=0)


def hstack_panels(panels: Sequence[Tuple[str, np.ndarray]],
                  gap: int = 4) -> np.ndarray:
    """Captioned RGB panels of one height side by side, ``gap`` pixels of white
    between them."""
    tiles = []
    for index, (caption, image) in enumerate(panels):
        if image.ndim == 2:
            image = np.repeat(image[..., None], 3, axis=2)
        if index:
            tiles.append(
                np.full((image.shape[0] + CAPTION_HEIGHT, gap, 3), 255,
                        np.uint8))
        tiles.append(_captioned(image, caption))
    return np.concatenate(tiles, axis=1)


def change_panel(image_a: np.ndarray,
                 image_b: np.ndarray,
                 pred: np.ndarray,
                 label: Optional[np.ndarray] = None,
                 distance: Optional[np.ndarray] = None,
                 ignore_index: int = 255,
                 vmax: float = 2.0) -> np.ndarray:
    """One picture of a pair: A | B | label | prediction | distance | overlay.

    With a label the prediction panel shows errors (white hits, red false
    alarms, green misses); without one, the label panel is left out and the
    prediction is white on black. The distance panel appears when a distance
    map is given; the overlay draws the prediction over date B.

    Args:
        image_a (np.ndarray): Date A, H x W x 3 uint8 RGB.
        image_b (np.ndarray): Date B, same shape.
        pred (np.ndarray): H x W 0/1 predicted change.
        label (np.ndarray, optional): H x W 0/1 label, ``ignore_index``
            where unlabelled.
        distance (np.ndarray, optional): H x W distance map.
        ignore_index (int): Label value of unlabelled pixels.
        vmax (float): Distance drawn white, see :func:`distance_to_image`.

    Returns:
        np.ndarray: The panel, (H + caption) x (k W + gaps) x 3 uint8.
    """
    if image_a.shape != image_b.shape:
        raise ValueError(f'date A is {image_a.shape}, date B '
                         f'{image_b.shape}; a pair must match in shape')
    pred = _check_map(pred, image_a.shape[:2], 'prediction')
    panels = [('A', image_a), ('B', image_b)]
    if label is not None:
        panels += [('label', label_image(label, ignore_index)),
                   ('prediction', error_image(pred, label, ignore_index))]
    else:
        panels.append(('prediction', label_image(pred, ignore_index)))
    if distance is not None:
        distance = _check_map(distance, pred.shape, 'distance map')
        panels.append(('distance', distance_to_image(distance, vmax)))
    panels.append(('overlay on B', overlay_changes(image_b, pred)))
    return hstack_panels(panels)
