"""What every mmzoo backbone does alike: its initialisation config and its
frozen stages."""
from typing import Iterable, List, Optional, Union

import torch.nn as nn

InitCfg = Optional[Union[dict, List[dict]]]


def backbone_init_cfg(pretrained: Optional[str], init_cfg: InitCfg,
                      default: List[dict]) -> Union[dict, List[dict]]:
    """The ``init_cfg`` a backbone hands to ``BaseModule``: a checkpoint given
    as ``pretrained`` (mmseg's older spelling), else ``init_cfg``, else the
    architecture's own initialisation ``default``."""
    if pretrained is not None:
        if init_cfg is not None:
            raise ValueError('give either pretrained or init_cfg, not both')
        return dict(type='Pretrained', checkpoint=pretrained)
    return default if init_cfg is None else init_cfg


def freeze(modules: Iterable[nn.Module]) -> None:
    """Hold ``modules`` in eval mode with their parameters out of training,
    which is what a backbone's ``frozen_stages`` does to its first stages."""
    for module in modules:
        module.eval()
        for param in module.parameters():
            param.requires_grad = False
