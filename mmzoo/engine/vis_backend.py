"""mmengine's LocalVisBackend with pictures written atomically."""
import os.path as osp

import cv2
import numpy as np
from mmengine.visualization import LocalVisBackend
from mmengine.visualization.vis_backend import force_init_env

from mmzoo.registry import VISBACKENDS
from mmzoo.utils.fileio import atomic_write_bytes


@VISBACKENDS.register_module()
class AtomicLocalVisBackend(LocalVisBackend):
    """:class:`mmengine.visualization.LocalVisBackend` whose pictures are
    written through a temporary file and a rename.

    mmengine's backend saves each picture with ``cv2.imwrite`` in place, so a
    run killed while drawing (mmseg's visualisation hook draws every test
    image with ``--show-dir``) leaves a truncated PNG. It takes
    LocalVisBackend's arguments; :class:`mmzoo.engine.MMZooRunner` (used by
    ``tools/train.py`` and ``tools/test.py``) puts it in place of a
    configured LocalVisBackend.
    """

    @force_init_env
    def add_image(self,
                  name: str,
                  image: np.ndarray,
                  step: int = 0,
                  **kwargs) -> None:
        """Save ``image`` (RGB, uint8) as ``{name}_{step}.png``."""
        assert image.dtype == np.uint8
        ok, encoded = cv2.imencode('.png',
                                   cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
        if not ok:
            raise RuntimeError(f'cv2 could not encode the picture {name}')
        atomic_write_bytes(encoded.tobytes(),
                           osp.join(self._img_save_dir, f'{name}_{step}.png'))
