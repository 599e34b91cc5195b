"""Errors raised by the encrypted store."""


class StoreError(Exception):
    """Base of the store's errors."""
