from typing import Iterable

import torch.nn as nn


def freeze(modules: Iterable[nn.Module]) -> None:
    """Hold ``modules`` in eval mode with their parameters out of training:
    what a backbone's ``frozen_stages`` does to its first stages."""
    for module in modules:
        module.eval()
        for param in module.parameters():
            param.requires_grad = False
