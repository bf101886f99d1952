"""Convert a torchvision ResNet-18 or ResNet-34 checkpoint into an mmzoo
classifier checkpoint (``mmzoo.ResNet`` backbone), e.g. the ImageNet weights
STANet starts from.

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
from converter_cli import run

from mmzoo.models.converters import convert_torchvision_resnet

if __name__ == '__main__':
    run(__doc__, convert_torchvision_resnet)
