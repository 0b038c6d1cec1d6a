"""Synthetic loan books and the demo run."""
