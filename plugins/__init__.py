"""Builtin lrmzero plugins, registered through the ``lrmzero`` entry-point group like any other."""
