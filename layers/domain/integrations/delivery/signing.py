"""Signing-secret rotation without downtime: after a webhook's secret changes, deliveries are signed with
both the new and the previous secret for a grace period, so receivers can switch whenever they like.

The previous secret is kept where credentials live: in the new version of the integration's secret, as
``{"signingRotation": {"previousSecret": …, "rotatedAt": …}}`` beside ``credentials`` and ``config``. It
is never part of a response or a log line. Only one previous secret is kept: rotating again within the
grace period signs with the newest two.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from integrations.platform import clock

ROTATION = "signingRotation"


def _signing_secret(value: dict[str, Any]) -> str | None:
    secret = (value.get("credentials") or {}).get("secret")
    return secret if isinstance(secret, str) and secret else None


def with_rotation(stored: dict[str, Any], new: dict[str, Any], at: datetime) -> dict[str, Any]:
    """The secret value to write for ``new``, given the ``stored`` one it replaces.

    A changed secret remembers the stored one as previous; an unchanged secret keeps the rotation it had
    (a PATCH of the URL does not end a grace period); no secret at all means nothing to rotate.
    """
    old_secret, new_secret = _signing_secret(stored), _signing_secret(new)
    new = {key: value for key, value in new.items() if key != ROTATION}
    if new_secret is None:
        return new
    if old_secret is not None and old_secret != new_secret:
        return {**new, ROTATION: {"previousSecret": old_secret, "rotatedAt": clock.iso(at)}}
    if old_secret == new_secret and isinstance(stored.get(ROTATION), dict):
        return {**new, ROTATION: stored[ROTATION]}
    return new


def previous_secret(value: dict[str, Any], at: datetime, grace: timedelta) -> str | None:
    """The secret that also signs deliveries made ``at``: the previous one within its grace period."""
    rotation = value.get(ROTATION)
    if not isinstance(rotation, dict):
        return None
    previous, rotated_at = rotation.get("previousSecret"), rotation.get("rotatedAt")
    if not isinstance(previous, str) or not isinstance(rotated_at, str):
        return None
    if at >= datetime.fromisoformat(rotated_at) + grace or previous == _signing_secret(value):
        return None
    return previous
