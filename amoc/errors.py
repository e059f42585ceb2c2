"""Exceptions that carry an actionable message for the user (what file, what is wrong, what to do)."""


class AmocError(Exception):
    """Base class: the CLI prints these without a traceback and exits with status 2."""


class DatasetError(AmocError):
    """A dataset folder, archive or frame is missing, corrupt, or laid out wrongly."""


class ConfigError(AmocError):
    """A configuration value is outside the schema or inconsistent with the data."""


class CheckpointError(AmocError):
    """A checkpoint is unreadable or was written for another model configuration."""
