from .change_visualization_hook import ChangeVisualizationHook
from .rng_state_hook import RNGStateHook

__all__ = ['ChangeVisualizationHook', 'RNGStateHook']
