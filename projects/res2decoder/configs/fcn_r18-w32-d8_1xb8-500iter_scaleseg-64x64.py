# FCNHead (mmseg's) on the last stage: the single-level baseline.
_base_ = ['./_base_/r18-w32-d8_scaleseg.py']
