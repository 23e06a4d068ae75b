"""One error hierarchy for the core.

The UI and the command line catch :class:`DispatcherError` and show its message to a person;
anything else reaching them is a bug. Messages are written for the dispatcher, not for us.
"""

from __future__ import annotations


class DispatcherError(Exception):
    """Base of every error the core raises on purpose."""


class ConfigError(DispatcherError):
    """The configuration file or an override is missing, unreadable or invalid."""


class DatabaseError(DispatcherError):
    """The database cannot be used as it is (unreachable, locked, from a newer version...)."""


class DatabaseUnavailable(DatabaseError):
    """The database server cannot be reached or the file cannot be opened."""


class DatabaseTooNew(DatabaseError):
    """The database was migrated by a newer Dispatcher; we refuse to touch it."""


class DatabaseLocked(DatabaseError):
    """Another program holds a lock on the SQLite file for longer than the busy timeout."""


class ValidationError(DispatcherError):
    """Input data breaks a rule (bad coordinates, window end before start...)."""


class RecordRefused(ValidationError):
    """The database refuses this one record (a value too long, a NUL byte, a conflicting
    row): retrying cannot help, so it is set aside with :attr:`reason` and the rest go on.

    The opposite of a transient :class:`DatabaseError` (connection lost, lock timeout,
    serialization failure), which is retried. ``dispatcher.persistence.storage_errors``
    decides which is which.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(f"The database refused the record: {reason}")
        self.reason = reason


class ImportFileError(DispatcherError):
    """An import file cannot be read at all (missing, wrong encoding, no header)."""


class ConflictError(DispatcherError):
    """Someone else changed the record since it was read (optimistic locking)."""


class NotFoundError(DispatcherError):
    """A record that the action needs does not exist (any more)."""


class PermissionDenied(DispatcherError):
    """The current user's role does not allow the action."""


class InvalidTransition(DispatcherError):
    """A workflow step that is not allowed from the current state."""
