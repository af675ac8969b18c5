"""The store's errors: each message names the file and says what to do."""

__all__ = ["CorruptPartError", "StoreError"]


class StoreError(RuntimeError):
    """The store cannot be read or written; the message says which file and why."""


class CorruptPartError(StoreError):
    """A part file does not match its checksums: its rows cannot be believed."""
