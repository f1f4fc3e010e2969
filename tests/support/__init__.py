"""Shared test helpers: synthetic Gutenberg books, a local mirror, real servers and workers."""
