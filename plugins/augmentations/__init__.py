"""Builtin augmentations (registered through entry points)."""
