"""Training recipe of the built-in model (see python/train.py)."""
