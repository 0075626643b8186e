"""Errors a user can fix: the CLI prints them as one line, never a traceback."""


class UserError(Exception):
    """A mistake in the config or the data that the user can fix; the message says how."""


class ConfigError(UserError):
    """configs/config.yaml is missing, malformed or holds a value that is not allowed."""


class DataError(UserError):
    """The data cannot be loaded or does not fit the configuration."""
