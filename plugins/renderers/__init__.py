"""Builtin renderers (registered through entry points)."""
