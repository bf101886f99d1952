from .bsda_classifier import BSDAClassifier

__all__ = ['BSDAClassifier']
