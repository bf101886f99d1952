from .change_map import (change_panel, distance_to_image, error_image,
                         hstack_panels, label_image, overlay_changes)
from .octa_panel import (class_name, class_title, faz_contours,
                         heatmap_to_image, octa_panel, sdm_to_image)
from .octa_visualizer import OCTAVisualizer
from .recon_panel import reconstruction_panel

__all__ = [
    'OCTAVisualizer', 'change_panel', 'class_name', 'class_title',
    'distance_to_image', 'error_image', 'faz_contours', 'heatmap_to_image',
    'hstack_panels', 'label_image', 'octa_panel', 'overlay_changes',
    'reconstruction_panel', 'sdm_to_image'
]
