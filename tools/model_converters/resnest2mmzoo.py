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
from converter_cli import run

from mmzoo.models.converters import convert_official_resnest

if __name__ == '__main__':
    run(__doc__, convert_official_resnest)
