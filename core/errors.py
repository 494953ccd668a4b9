"""Errors whose messages tell a person what is wrong and how to fix it."""


class PolydeskError(Exception):
    """Base of every error Polydesk raises on purpose; its message is meant for a person."""


class ConfigError(PolydeskError):
    """A setting is missing or invalid."""


class MissingDependency(PolydeskError):
    """A Python package or a model needed by the configured backend is not available."""


class ModelNotAvailable(MissingDependency):
    """A model is neither a local folder nor in the local cache, and cannot be downloaded."""


class BackendUnavailable(PolydeskError):
    """An external service (vLLM, an OpenAI-compatible server) failed, timed out or answered nonsense."""


class BadFile(PolydeskError):
    """A file cannot be ingested; the message says why in words a person understands."""


class EmbeddingMismatch(PolydeskError):
    """A collection was embedded with another model or dimension than the configured one."""


class UnknownCollection(PolydeskError):
    """A collection name that does not exist, or is not a valid name."""


class BadInput(PolydeskError):
    """A file or value given to a command or a page cannot be used; the message says what to change."""


class StoreBusy(PolydeskError):
    """Another process kept the store's write lock or lease longer than this writer waits."""


class StoreBroken(BackendUnavailable):
    """The store cannot be read or written: a damaged database, a read-only folder, a full disk."""
class NotAuthorized(PolydeskError):
    """The action needs a valid admin session and there is none."""


class WeakPassword(PolydeskError, ValueError):
    """A new admin password does not meet the minimum length."""
