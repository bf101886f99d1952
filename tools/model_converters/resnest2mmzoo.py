"""Convert an official ResNeSt checkpoint into an mmzoo classifier checkpoint.

The official release (github zhanghang1989/ResNeSt) ships plain state dicts
for resnest50, resnest101, resnest200 and resnest269. The depth and stem
width are read from the weights, the keys are renamed to mmzoo's layout, and
the result is checked against a freshly built mmpretrain ``ImageClassifier``
with an ``mmzoo.ResNeSt`` backbone before anything is written
(``mmzoo.models.converters.convert_official_resnest``).

    python tools/model_converters/resnest2mmzoo.py \\
        resnest50-528c19ca.pth checkpoints/resnest50_in1k.pth
"""

import argparse
import sys

from mmzoo.models.converters import convert_official_resnest
from mmzoo.utils.converter import (ConversionError, read_state_dict,
                                   write_checkpoint)


def parse_args():
    parser = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('src', help='official checkpoint (.pth)')
    parser.add_argument('dst', help='where to write the mmzoo checkpoint')
    return parser.parse_args()


def main():
    args = parse_args()
    try:
        state_dict = read_state_dict(args.src)
        converted, arch = convert_official_resnest(state_dict)
    except (ConversionError, OSError) as error:
        # Nothing is written: a failed conversion leaves no partial DST.
        sys.exit(f'error: {args.src}: {error}')
    write_checkpoint(args.dst, converted,
                     dict(converted_from=args.src, arch=arch))
    print(f'wrote {args.dst}: {arch}, {len(converted)} tensors')


if __name__ == '__main__':
    main()
