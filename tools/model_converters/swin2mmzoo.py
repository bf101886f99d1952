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
from converter_cli import run

from mmzoo.models.converters import convert_official_swin

if __name__ == '__main__':
    run(__doc__, convert_official_swin)
