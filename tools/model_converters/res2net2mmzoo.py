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
from converter_cli import run

from mmzoo.models.converters import convert_official_res2net

if __name__ == '__main__':
    run(__doc__, convert_official_res2net)
