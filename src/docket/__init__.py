"""Docket: a local-first, encrypted, tamper-evident evidence diary for people who are being
stalked or harassed."""

__version__ = "0.1.0"
