"""Builtin models (registered through entry points)."""
