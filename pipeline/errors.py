"""The errors ClaimWatch raises on purpose.

ClaimWatchError                 base of everything below; the CLI prints it and exits 2
├── ConfigError                 a setting or config file is wrong
├── RecordError                 one external record is malformed (names file, line, field)
│   └── TenantMismatch          a record names another MCN or anchor than its stream's registration
├── LexiconError                a lexicon file is malformed (names file, entry, reason)
├── AudioError                  an audio source cannot be opened or decoded (names the source)
├── ModelError                  a speech model cannot be found, assembled or verified
├── ServiceError                a local service (broker, clickhouse-server) failed to start
│   ├── DeliveryError           records the broker did not acknowledge (names how many and which)
│   └── TopicLayoutError        a topic's partitions differ from the configuration (names the fix)
└── WarehouseError              a warehouse operation failed
    ├── WarehouseUnavailable    the store could not be reached after bounded retries (an outage:
    │                           waiting may cure it)
    ├── RowRefused              a row the warehouse will never take as it is (a value out of its
    │                           column's range, text that is not UTF-8): waiting cannot cure it
    └── MigrationError          the schema cannot be brought to this release's version
"""

from __future__ import annotations


class ClaimWatchError(Exception):
    """Base class for the errors ClaimWatch raises on purpose."""


class ConfigError(ClaimWatchError):
    """A setting or configuration file is invalid."""


class RecordError(ClaimWatchError):
    """An external record is malformed.

    ``field`` is a dotted path into the record (``qualifications[0].number``); ``source`` and
    ``line`` say where the record came from when it came from a file.
    """

    def __init__(
        self, reason: str, *, field: str | None = None, source: str | None = None, line: int | None = None
    ) -> None:
        self.reason = reason
        self.field = field
        self.source = source
        self.line = line
        super().__init__(self._message())

    def _message(self) -> str:
        where = ":".join(str(p) for p in (self.source, self.line) if p is not None)
        what = f"field {self.field!r}: " if self.field else ""
        return f"{where}: {what}{self.reason}" if where else f"{what}{self.reason}"

    def at(self, *, source: str | None = None, line: int | None = None) -> RecordError:
        """The same error located in a file and line."""
        return RecordError(self.reason, field=self.field, source=source, line=line)


class TenantMismatch(RecordError):
    """A record's ``mcn_id``/``anchor_id`` disagrees with its stream's registration (the stream
    record): a stream's party is its registration's, so the record is refused (dead-lettered)."""

    def __init__(self, stream_id: str, field: str, said: str, registered: str) -> None:
        self.stream_id = stream_id
        self.said = said
        self.registered = registered
        what = field.removesuffix("_id")
        reason = f"{said!r} is not stream {stream_id!r}'s registered {what} {registered!r}"
        super().__init__(reason, field=field)


class LexiconError(ClaimWatchError):
    """A lexicon file is malformed."""


class AudioError(ClaimWatchError):
    """An audio source cannot be opened or decoded."""


class ModelError(ClaimWatchError):
    """A speech model cannot be found, assembled or verified."""


class ServiceError(ClaimWatchError):
    """A local service failed to start or stop."""


class DeliveryError(ServiceError):
    """Records were handed to the broker and not acknowledged (failed, or expired unanswered)."""


class TopicLayoutError(ServiceError):
    """A topic is missing or has another partition count than the configuration says."""


class WarehouseError(ClaimWatchError):
    """A warehouse operation failed."""


class WarehouseUnavailable(WarehouseError):
    """The warehouse could not be reached after bounded retries."""


class RowRefused(WarehouseError):
    """The warehouse refuses a row for good; ``column`` names the column when it is known.

    Raised for the whole batch the row came in: the batching sink halves a refused batch until
    it has found the rows that are refused, stores the rest and dead-letters those.
    """

    def __init__(self, reason: str, *, column: str | None = None) -> None:
        self.column = column
        super().__init__(reason)


class MigrationError(WarehouseError):
    """The warehouse schema cannot be brought to this release's version."""
