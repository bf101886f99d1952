"""Convert a torchvision ResNeXt checkpoint into an mmzoo classifier
checkpoint.

The architecture (depth, groups, width per group) is read from the weights,
the keys are renamed to mmzoo's layout, and the result is checked against a
freshly built mmpretrain ``ImageClassifier`` with an ``mmzoo.ResNeXt``
backbone before anything is written
(``mmzoo.models.converters.convert_torchvision_resnext``).

    python tools/model_converters/resnext2mmzoo.py \\
        resnext50_32x4d-1a0047aa.pth checkpoints/resnext50-32x4d_in1k.pth
"""
from converter_cli import run

from mmzoo.models.converters import convert_torchvision_resnext

if __name__ == '__main__':
    run(__doc__, convert_torchvision_resnext)
