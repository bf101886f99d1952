from .change_map import (change_panel, distance_to_image, error_image,
                         hstack_panels, label_image, overlay_changes)
from .recon_panel import reconstruction_panel

__all__ = [
    'change_panel', 'distance_to_image', 'error_image', 'hstack_panels',
    'label_image', 'overlay_changes', 'reconstruction_panel'
]
