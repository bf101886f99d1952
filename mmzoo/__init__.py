import mmcv
import mmengine
from packaging.version import parse

from .version import __version__, version_info

# The range mmseg 1.2.2 and mmdet 3.3.0 accept; our ops and configs are
# tested against it.
MMCV_MIN = '2.0.0'
MMCV_MAX = '2.2.0'
MMENGINE_MIN = '0.10.7'
MMENGINE_MAX = '1.0.0'


def _check_version(name: str, installed: str, low: str, high: str) -> None:
    if not parse(low) <= parse(installed) < parse(high):
        raise AssertionError(
            f'{name}=={installed} is used but incompatible with mmzoo '
            f'{__version__}: please install {name}>={low}, <{high}.')


_check_version('mmcv', mmcv.__version__, MMCV_MIN, MMCV_MAX)
_check_version('mmengine', mmengine.__version__, MMENGINE_MIN, MMENGINE_MAX)

__all__ = ['__version__', 'version_info']
