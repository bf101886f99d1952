from .change_map import (change_panel, distance_to_image, error_image,
                         hstack_panels, label_image, overlay_changes)

__all__ = [
    'change_panel', 'distance_to_image', 'error_image', 'hstack_panels',
    'label_image', 'overlay_changes'
]
