"""Metric functions on numpy arrays, for use outside mmengine's evaluator."""
