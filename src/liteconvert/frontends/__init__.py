"""Frontends: each imports one source framework's model into the IR."""
