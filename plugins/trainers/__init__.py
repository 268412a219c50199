"""Trainer plugins: each folder is one way to train, evaluate and use reconstruction models."""
