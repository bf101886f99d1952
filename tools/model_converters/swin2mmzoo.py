"""Convert an official Swin Transformer checkpoint into an mmzoo classifier
checkpoint.

The official release (github microsoft/Swin-Transformer) ships
``{'model': state_dict}``; its training checkpoints add optimizer,
scheduler and yacs config entries, of which only the weights are kept (the
config, an object of another package, is read as an inert placeholder that
never runs its code). The architecture (width, depths, heads, window and
patch size) is read from the weights, the keys are renamed to mmzoo's
layout, the official ``relative_position_index`` and ``attn_mask`` buffers
are checked against what mmzoo derives from the window size, and the result
is checked against a freshly built mmpretrain ``ImageClassifier`` with an
``mmzoo.SwinTransformer`` backbone before anything is written
(``mmzoo.models.converters.convert_official_swin``).

    python tools/model_converters/swin2mmzoo.py \\
        swin_tiny_patch4_window7_224.pth checkpoints/swin-tiny_in1k.pth
"""

import argparse
import sys

from mmzoo.models.converters import convert_official_swin
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
        converted, arch = convert_official_swin(state_dict)
    except (ConversionError, OSError) as error:
        # Nothing is written: a failed conversion leaves no partial DST.
        sys.exit(f'error: {args.src}: {error}')
    write_checkpoint(args.dst, converted,
                     dict(converted_from=args.src, arch=arch))
    print(f'wrote {args.dst}: {arch}, {len(converted)} tensors')


if __name__ == '__main__':
    main()
