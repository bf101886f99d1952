from .change_metric import ChangeMetric, change_scores
from .octa_metric import OCTAMetric, classification_scores
from .recon_metric import ReconstructionMetric

__all__ = [
    'ChangeMetric', 'OCTAMetric', 'change_scores', 'classification_scores',
    'ReconstructionMetric'
]
