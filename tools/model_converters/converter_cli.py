"""The command line every ``*2mmzoo.py`` script in this folder shares.

The scripts import it as a sibling module: running ``python
tools/model_converters/swin2mmzoo.py`` puts this folder first on the module
search path.
"""
import argparse
import sys
from typing import Callable, List, Optional

from mmzoo.utils.converter import (ConversionError, read_state_dict,
                                   write_checkpoint)


def run(doc: str,
        convert: Callable[[dict], tuple],
        argv: Optional[List[str]] = None) -> None:
    """``SCRIPT SRC DST``: read SRC safely, convert it with
    ``convert(state_dict) -> (state_dict, arch)`` and write DST atomically; on
    failure print what is wrong, naming SRC, exit 1 and write nothing.

    ``argv`` defaults to the command line.
    """
    parser = argparse.ArgumentParser(
        description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('src', help='checkpoint to convert (.pth)')
    parser.add_argument('dst', help='where to write the mmzoo checkpoint')
    args = parser.parse_args(argv)
    try:
        converted, arch = convert(read_state_dict(args.src))
    except (ConversionError, OSError) as error:
        sys.exit(f'error: {args.src}: {error}')
    write_checkpoint(args.dst, converted,
                     dict(converted_from=args.src, arch=arch))
    print(f'wrote {args.dst}: {arch}, {len(converted)} tensors')
