from .change_metric import ChangeMetric, change_scores

__all__ = ['ChangeMetric', 'change_scores']
