"""Convert a torchvision ResNet-18 or ResNet-34 checkpoint into an mmzoo
classifier checkpoint (``mmzoo.ResNet`` backbone), e.g. the ImageNet
weights STANet starts from.

The depth is read from the weights, the keys are renamed to mmzoo's layout,
and the result is checked against a freshly built mmpretrain
``ImageClassifier`` before anything is written
(``mmzoo.models.converters.convert_torchvision_resnet``).

    python tools/model_converters/resnet2mmzoo.py \\
        resnet18-f37072fd.pth checkpoints/resnet18_in1k.pth

STANet's backbone has a third, multi-grid block in its last stage that no
ImageNet ResNet-18 has: as in the official code, the configs load these
weights non-strictly and that block starts from its random initialisation
(mmengine logs its keys as missing).
"""

import argparse
import sys

from mmzoo.models.converters import convert_torchvision_resnet
from mmzoo.utils.converter import (ConversionError, read_state_dict,
                                   write_checkpoint)


def parse_args():
    parser = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('src', help='torchvision checkpoint (.pth)')
    parser.add_argument('dst', help='where to write the mmzoo checkpoint')
    return parser.parse_args()


def main():
    args = parse_args()
    try:
        state_dict = read_state_dict(args.src)
        converted, arch = convert_torchvision_resnet(state_dict)
    except (ConversionError, OSError) as error:
        # Nothing is written: a failed conversion leaves no partial DST.
        sys.exit(f'error: {args.src}: {error}')
    write_checkpoint(args.dst, converted,
                     dict(converted_from=args.src, arch=arch))
    print(f'wrote {args.dst}: {arch}, {len(converted)} tensors')


if __name__ == '__main__':
    main()
