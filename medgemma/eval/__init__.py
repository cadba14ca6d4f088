"""Evaluation: task loaders over public data sets, metrics, a resumable runner and its plots."""
