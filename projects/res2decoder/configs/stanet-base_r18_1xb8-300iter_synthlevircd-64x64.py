# STANet's own neck (mmzoo.STANetFPN): 4 x 96 -> 3x3 conv to 256 -> 64.
_base_ = ['./_base_/stanet-base_synthlevircd.py']
