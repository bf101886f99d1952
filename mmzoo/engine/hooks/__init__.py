from .change_visualization_hook import ChangeVisualizationHook
from .cls_loss_warmup_hook import ClsLossWarmupHook
from .recon_visualization_hook import ReconstructionVisualizationHook
from .rng_state_hook import RNGStateHook

__all__ = [
    'ChangeVisualizationHook', 'ClsLossWarmupHook',
    'ReconstructionVisualizationHook', 'RNGStateHook'
]
