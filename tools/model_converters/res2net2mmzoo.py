"""Convert an official Res2Net checkpoint into an mmzoo classifier checkpoint.

The official release (github Res2Net/Res2Net-PretrainedModels) ships plain
state dicts for the res2net, res2next and res2net_v1b families. The
architecture (depth, scales, width, groups, v1b stem) is read from the
weights, the keys are renamed to mmzoo's layout, and the result is checked
against a freshly built mmpretrain ``ImageClassifier`` with an
``mmzoo.Res2Net`` backbone before anything is written
(``mmzoo.models.converters.convert_official_res2net``).

    python tools/model_converters/res2net2mmzoo.py \\
        res2net50_26w_4s-06e79181.pth checkpoints/res2net50-26w4s_in1k.pth
"""

import argparse
import sys

from mmzoo.models.converters import convert_official_res2net
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
        converted, arch = convert_official_res2net(state_dict)
    except (ConversionError, OSError) as error:
        # Nothing is written: a failed conversion leaves no partial DST.
        sys.exit(f'error: {args.src}: {error}')
    write_checkpoint(args.dst, converted,
                     dict(converted_from=args.src, arch=arch))
    print(f'wrote {args.dst}: {arch}, {len(converted)} tensors')


if __name__ == '__main__':
    main()
