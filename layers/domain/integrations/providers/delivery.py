"""What a provider is given to deliver, and what it reports back."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

if TYPE_CHECKING:
    from integrations.events import Event


TEST_EVENT_TYPE = "integration.test"


@dataclass(frozen=True)
class Delivery:
    """One attempt to deliver one event to one integration."""

    delivery_id: str  # the same across retries (the webhook's `webhook-id`)
    event_type: str  # the label: the most specific subscribed type, or integration.test
    event: Event
    account_id: str
    integration_id: str
    integration_name: str
    credentials: Any = field(repr=False)  # the provider's credentials model
    config: Any  # the provider's config model
    attempt: int = 1
    test: bool = False
    timestamp: datetime = field(default_factory=lambda: datetime.now().astimezone())
    # A webhook's previous signing secret, during the grace period after a rotation (integrations.delivery.signing).
    previous_secret: str | None = field(default=None, repr=False)


class Outcome(NamedTuple):
    """The result of one attempt, as the delivery log and the retry policy need it."""

    success: bool
    response_code: int | None
    response_time_ms: int
    error: str | None = None  # scrubbed of credentials, safe for logs and API answers
    retryable: bool = False
    retry_after: float | None = None  # seconds the provider asked us to wait
    skipped: bool = False  # nothing had to be sent (e.g. the finding already has its Jira issue)
    # The provider said the destination is over its rate limit with a status other than 429 (GitHub's 403):
    # the destination is held as after a 429.
    rate_limited: bool = False


class ProviderState(Protocol):
    """Small durable memory for providers: Jira issue keys per finding, email digests per scan."""

    def get(self, key: str) -> dict[str, Any] | None: ...

    def put_if_absent(self, key: str, value: dict[str, Any], ttl_seconds: int) -> bool: ...

    def append(self, key: str, item: dict[str, Any], ttl_seconds: int) -> None: ...

    def pop_all(self, key: str) -> list[dict[str, Any]]: ...

    def delete(self, key: str) -> None: ...
