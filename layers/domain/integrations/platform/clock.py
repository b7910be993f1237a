"""Time and identifiers: UTC ISO 8601 with ``Z`` at second precision, and UUIDv7 ids."""

from __future__ import annotations

from datetime import UTC, datetime


def now() -> datetime:
    """The current UTC time, truncated to the second as the API shows it."""
    return datetime.now(UTC).replace(microsecond=0)


def iso(moment: datetime) -> str:
    """``2026-04-10T16:30:22Z`` (RFC 3339: four digits of year, which strftime does not give before year 1000)."""
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds") + "Z"


def new_id() -> str:
    """A time-ordered UUIDv7, so ids sort by creation time."""
    # Imported at the first id: most functions never make one, and importing uuid6 reads its package's metadata.
    import uuid6

    return str(uuid6.uuid7())
