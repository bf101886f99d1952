"""read_state_dict: the weights of an official Swin training checkpoint,
whose foreign objects (a yacs config) load as inert placeholders instead of
running code; foreign objects in place of weights are named."""
import pickle

import pytest
import torch
from mmzoo_testing import (RAN, TrainingConfig, official_swin_checkpoint,
                           swin_training_checkpoint, timm_reference)

from mmzoo.utils.converter import ConversionError, read_state_dict


def test_training_checkpoint_gives_the_weights_without_running_code(tmp_path):
    official = timm_reference('swin_tiny_patch4_window7_224')
    src = tmp_path / 'swin_tiny_training.pth'
    torch.save(swin_training_checkpoint(official), src)
    with pytest.raises(pickle.UnpicklingError):
        torch.load(src, weights_only=True)
    # The probe works: unpickling our own file in full runs both.
    torch.load(src, weights_only=False)
    assert {ran[0]
            for ran in RAN
            } == {'TrainingConfig.__setstate__', 'Callback.__reduce__'}
    RAN.clear()

    state_dict = read_state_dict(str(src))
    assert not RAN
    expected = official_swin_checkpoint(official)['model']
    assert list(state_dict) == list(expected)
    for key, value in expected.items():
        assert torch.equal(state_dict[key], value), key

    # Foreign objects in place of the weights are named, not used.
    torch.save(dict(model=TrainingConfig(), epoch=1), src)
    with pytest.raises(
            ConversionError,
            match=r"'model' is a .*TrainingConfig, not a tensor"):
        read_state_dict(str(src))
    assert not RAN
