"""Composers: each folder is one set of rules for building objects (Zeroverse's, or others)."""
