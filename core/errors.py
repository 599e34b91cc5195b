"""Errors raised at the model's public boundaries."""


class ModelError(Exception):
    """Base of the model package's errors."""


class ModelFilesError(ModelError):
    """A model folder is missing a file, or a file does not fit the config (names the file)."""


class StateMismatch(ModelError):
    """A saved recurrent state does not fit the model it is being loaded into."""


class AdapterMismatch(ModelError):
    """A saved adapter does not fit the model it is being loaded into."""
