"""The declarative provider base: identity, credential and config models, supported events."""

from __future__ import annotations

import types
from typing import Annotated, Any, ClassVar, Literal, NamedTuple, Union, get_args, get_origin
from urllib.parse import parse_qsl, urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints, ValidationError, ValidationInfo
from pydantic.fields import FieldInfo
from urllib3.util import parse_url

from integrations.catalog import EventType
from integrations.platform.errors import FieldError, ValidationFailed, field_path
from integrations.platform.settings import DeliverySettings
from integrations.providers import ssrf
from integrations.providers.delivery import Delivery, Outcome, ProviderState

FieldType = Literal["string", "string[]", "boolean", "object"]


class ProviderModel(BaseModel):
    """Credentials and config: strict types, unknown fields refused."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class NoConfig(ProviderModel):
    """A provider without configuration options."""


class SendContext(NamedTuple):
    """What a sender may use besides the delivery itself."""

    settings: DeliverySettings
    state: ProviderState


class Provider:
    """One third-party destination. Subclasses declare; the catalog and validation derive from them."""

    id: ClassVar[str]
    name: ClassVar[str]
    description: ClassVar[str]
    credentials: ClassVar[type[ProviderModel]]
    config: ClassVar[type[ProviderModel]] = NoConfig
    supported_events: ClassVar[tuple[EventType, ...]]
    # Seconds between two messages to one destination (the provider's documented rate); None: not paced.
    rate_interval: ClassVar[float | None] = None

    @classmethod
    def destination(cls, credentials: Any) -> str | None:
        """What the provider's rate limit (and a 429) applies to; a credential, so only ever stored hashed."""
        return None

    @classmethod
    def check(cls, config: ProviderModel, events: list[EventType]) -> dict[str, str]:
        """Rules across fields, as {field path: message}; none by default."""
        return {}

    @classmethod
    def send(cls, delivery: Delivery, context: SendContext) -> Outcome:
        """Make one delivery attempt; never raises for a provider's or the network's failure."""
        raise NotImplementedError

    @classmethod
    def send_test(cls, delivery: Delivery, context: SendContext) -> Outcome:
        """The test route's attempt; by default an ordinary delivery of the test event."""
        return cls.send(delivery, context)

    @classmethod
    def secret_values(cls, credentials: ProviderModel, config: ProviderModel) -> list[str]:
        """Every string that must never appear in a log line, a delivery log or an error message."""
        found: list[str] = []

        def collect(value: Any) -> None:
            if isinstance(value, str):
                found.append(value)
            elif isinstance(value, dict):
                for item in value.values():
                    collect(item)
            elif isinstance(value, list):
                for item in value:
                    collect(item)

        collect(credentials.model_dump())
        collect(config.model_dump().get("headers") or {})
        return found


def with_url_parts(values: list[str]) -> list[str]:
    """``values`` plus the path, its last segment, the query and each query value of every URL among them: the
    parts of a webhook URL that hold its token (Discord's last segment, ``sig=``, ``key=``/``token=``), which an
    error may quote alone."""
    urls = [urlsplit(value) for value in values if value.startswith(("https://", "http://"))]
    parts = [part for url in urls for part in (url.path, url.path.rsplit("/", 1)[-1], url.query)]
    decoded = [value for url in urls for _, value in parse_qsl(url.query)]
    raw = [pair.partition("=")[2] for url in urls for pair in url.query.split("&")]  # as sent, percent-encoded
    return [*values, *filter(None, parts), *decoded, *filter(None, raw)]


def parse_settings(
    provider: type[Provider],
    secret: dict[str, Any],
    allow_local_destinations: bool,
    *,
    check_destination_addresses: bool = True,
) -> tuple[ProviderModel, ProviderModel]:
    """The provider's credentials and config models from a secret's value; ValidationFailed names each bad field.

    ``check_destination_addresses=False`` (delivery) leaves resolving and checking hosts to the connection guard.
    """
    context = {
        "allow_local_destinations": allow_local_destinations,
        "check_destination_addresses": check_destination_addresses,
    }
    parsed: list[ProviderModel] = []
    errors: list[FieldError] = []
    for part, model in (("credentials", provider.credentials), ("config", provider.config)):
        try:
            parsed.append(model.model_validate(secret.get(part) or {}, context=context))
        except ValidationError as error:
            # pydantic's messages name the rule broken, never the rejected input.
            errors += [
                FieldError(f"{part}.{field_path(e['loc'])}".rstrip("."), e["msg"].removeprefix("Value error, "))
                for e in error.errors(include_input=False, include_url=False)
            ]
    if errors:
        raise ValidationFailed(f"Invalid {provider.name} settings", errors)
    return parsed[0], parsed[1]


def allows_local(info: ValidationInfo) -> bool:
    """Whether this validation runs with ``ALLOW_LOCAL_DESTINATIONS`` on (local stack and tests)."""
    return bool(info.context and info.context.get("allow_local_destinations"))


def check_destination_url(value: str, info: ValidationInfo) -> str:
    """An absolute HTTPS URL whose host resolves only to public addresses; anything local where allowed."""
    if len(value) > 2048:
        raise ValueError("must be at most 2048 characters")
    try:
        parts = urlsplit(value)
        port = parts.port
        # The host as the HTTP client will connect to it (IDNA 2008): getaddrinfo's older IDNA would map names that
        # delivery then refuses (fullwidth letters, an ideographic full stop), so they are refused here too.
        host = parse_url(value).host
    except ValueError:  # urllib3's LocationParseError is one
        raise ValueError("must be a valid URL") from None
    allowed = ("https", "http") if allows_local(info) else ("https",)
    if parts.scheme not in allowed:
        raise ValueError("must be an HTTPS URL")
    if not parts.hostname or any(c.isspace() for c in value):
        raise ValueError("must be a valid URL with a host")
    if parts.username or parts.password:
        raise ValueError("must not contain a user name or password")
    if not allows_local(info) and checks_addresses(info):
        check_destination_host(host or parts.hostname, port or (443 if parts.scheme == "https" else 80))
    return value


def checks_addresses(info: ValidationInfo) -> bool:
    """Whether this validation resolves the host (create, update); delivery leaves it to the connection guard.

    At delivery the outbound connection resolves, checks and connects in one step (``integrations.providers.http``),
    so that a DNS failure there is retried and a refused address is reported as such.
    """
    return not info.context or bool(info.context.get("check_destination_addresses", True))


def check_destination_host(host: str, port: int) -> None:
    """ValueError unless ``host`` (a name or an IP literal in any notation) reaches only public addresses."""
    try:
        ssrf.checked_addresses(host, port)
    except ssrf.RefusedDestination:
        raise ValueError("must not point to a private, loopback or link-local address") from None
    except ssrf.UnresolvableHost:
        raise ValueError("host name does not resolve") from None
    except ssrf.InvalidHost:
        raise ValueError("must be a valid URL with a host") from None


def check_email(value: str) -> str:
    """A syntactically valid address; the message never echoes it (recipients are credentials)."""
    from email_validator import EmailNotValidError, validate_email  # imported only when an email is validated

    try:
        return validate_email(value, check_deliverability=False).normalized
    except EmailNotValidError:
        raise ValueError("must be a valid email address") from None


EmailAddress = Annotated[str, StringConstraints(max_length=254), AfterValidator(check_email)]


def field_type(field: FieldInfo) -> FieldType:
    """The catalog's type name for a credential or config field, from its annotation."""
    annotation: Any = field.annotation
    if get_origin(annotation) in (Union, types.UnionType):  # Optional[X] → X
        annotation = next(arg for arg in get_args(annotation) if arg is not type(None))
    if get_origin(annotation) is Annotated:  # Annotated[X, ...] → X
        annotation = get_args(annotation)[0]
    origin = get_origin(annotation) or annotation
    if origin is list:
        return "string[]"
    if origin is dict:
        return "object"
    if annotation is bool:
        return "boolean"
    return "string"
