"""Our exceptions: one small hierarchy with messages a user can act on."""


class ScalperError(Exception):
    """Base of every error scalper raises on purpose; the CLI prints its message."""


class ConfigError(ScalperError):
    """A setting is invalid."""


class InputError(ScalperError):
    """An input file or argument cannot be used."""
