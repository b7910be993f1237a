"""Outbound HTTP to providers: bounded timeouts, no redirects, and errors that never carry credentials.

Every connection goes through the SSRF guard (``ssrf``): the host is resolved once when the connection is
opened, refused when any address is not globally routable, and the socket is connected to one of exactly
those addresses. Only the socket's peer changes: the request's Host header, TLS SNI and certificate
verification all still use the URL's host name, as urllib3 does for any connection.
``ALLOW_LOCAL_DESTINATIONS`` (local stack and tests) turns the guard off.
"""

from __future__ import annotations

import email.utils
import json
import socket
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import TYPE_CHECKING, Any

from urllib3 import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.exceptions import ConnectTimeoutError, LocationParseError, NameResolutionError, NewConnectionError
from urllib3.util import connection

from integrations import settings, ssrf
from integrations.delivery import Outcome
from integrations.observability import logger

if TYPE_CHECKING:
    import requests
    import requests.adapters

USER_AGENT = "Apviso-Integrations/1.0 (+https://apviso.com)"
CONNECT_TIMEOUT = 3.05
READ_TIMEOUT = 10.0
RETRYABLE_STATUSES = frozenset({408, 425, 429})
MAX_RETRY_AFTER = 12 * 3600  # SQS cannot hide a message longer
REDACTED = "[redacted]"


@dataclass(frozen=True)
class HttpResponse:
    status: int
    reason: str
    headers: Mapping[str, str]
    text: str
    elapsed_ms: int


class TransportError(Exception):
    """The request got no HTTP answer (timeout, refused, reset, TLS). The message is safe to show."""

    def __init__(self, message: str, elapsed_ms: int, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.elapsed_ms = elapsed_ms
        self.retryable = retryable


class DestinationRefused(TransportError):
    """The SSRF guard refused the destination before any connection: permanent until the URL changes."""

    def __init__(self, message: str, elapsed_ms: int) -> None:
        super().__init__(message, elapsed_ms, retryable=False)


def scrub(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret value replaced (longest first, so a secret inside another goes too)."""
    for secret in sorted((s for s in secrets if s and len(s) >= 4), key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return text


def local_destinations_allowed() -> bool:
    """``ALLOW_LOCAL_DESTINATIONS`` of this function's delivery settings (validated once, at first use)."""
    return bool(settings.load(settings.DeliverySettings).allow_local_destinations)


class _GuardedConnection(HTTPConnection):
    """Resolves and checks the host when the socket is opened, then connects only to a checked address."""

    def _new_conn(self) -> socket.socket:
        if local_destinations_allowed():
            return super()._new_conn()
        try:
            addresses = ssrf.checked_addresses(self._dns_host, self.port)
        except ssrf.UnresolvableHost as error:
            # As urllib3 reports a failed lookup: a connection error, retried later.
            raise NameResolutionError(self.host, self, socket.gaierror(str(error))) from None
        except ssrf.InvalidHost:
            raise ssrf.RefusedDestination("not a valid address") from None
        failure: OSError | None = None
        for address in addresses:  # each was checked; the resolver is not asked again
            try:
                return connection.create_connection(
                    (str(address), self.port),
                    self.timeout,
                    source_address=self.source_address,
                    socket_options=self.socket_options,
                )
            except OSError as error:
                failure = error
        if isinstance(failure, TimeoutError):
            raise ConnectTimeoutError(self, f"Connection timed out (connect timeout={self.timeout})") from failure
        raise NewConnectionError(self, f"Failed to establish a new connection: {failure}") from failure


class _GuardedHTTPSConnection(_GuardedConnection, HTTPSConnection):
    """TLS over a guarded socket: SNI and certificate verification still use the URL's host name."""


class _GuardedPool(HTTPConnectionPool):
    ConnectionCls = _GuardedConnection


class _GuardedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _GuardedHTTPSConnection


@cache
def _guarded_adapter() -> type[requests.adapters.HTTPAdapter]:
    # requests is imported at the first delivery, not with this module: the API functions load this module
    # (through the providers' validation) but never send, and requests costs a sixth of a boto3 import.
    import requests
    from requests.adapters import HTTPAdapter

    class GuardedAdapter(HTTPAdapter):
        """requests' adapter whose connections go through the SSRF guard."""

        def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
            super().init_poolmanager(*args, **kwargs)
            self.poolmanager.pool_classes_by_scheme = {"http": _GuardedPool, "https": _GuardedHTTPSPool}

        def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
            # Through a proxy, the proxy would resolve the name: the guard could not see where we connect.
            raise requests.exceptions.InvalidProxyURL("proxies are not supported for provider calls")

    # Not patched for X-Ray: its requests patch records each URL's path (a Slack webhook's path is its secret)
    # and adds a trace header to calls to customers' receivers. Attempts are in the logs and metrics instead.
    return GuardedAdapter


@cache
def _session() -> requests.Session:
    from http.cookiejar import DefaultCookiePolicy  # the standard library's, like requests, loaded here

    import requests  # at the first request, not with this module (see _guarded_adapter)

    # One pooled session per container; redirects are never followed (a redirect is a failure).
    adapter = _guarded_adapter()()
    session = requests.Session()
    session.trust_env = False  # no proxy or .netrc from the environment
    # No cookies: the session serves every account, and a receiver's cookie would go to the next one on its host.
    session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def post(
    url: str,
    *,
    json_body: Any = None,
    data: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    auth: tuple[str, str] | None = None,
    timeout: float | None = None,
    verify: bool = True,
) -> HttpResponse:
    """POST and return the answer, whatever its status; raises TransportError when there is none."""
    return request(
        "POST", url, json_body=json_body, data=data, headers=headers, auth=auth, timeout=timeout, verify=verify
    )


def request(
    method: str,
    url: str,
    *,
    json_body: Any = None,
    data: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    auth: tuple[str, str] | None = None,
    timeout: float | None = None,
    verify: bool = True,
) -> HttpResponse:
    """One HTTP request with the service's User-Agent, bounded timeouts and no redirects.

    ``verify=False`` skips TLS certificate verification: only for an integration whose owner opted in (a Splunk
    HEC with its self-signed certificate); the SSRF guard still applies.
    """
    import requests  # at the first request, not with this module (see _guarded_adapter)

    if not verify:
        _quiet_insecure_warning()
    timeout = READ_TIMEOUT if timeout is None else timeout
    sent_headers = {"User-Agent": USER_AGENT, **(headers or {})}
    started = time.monotonic()
    try:
        response = _session().request(
            method,
            url,
            json=json_body,
            data=data,
            headers=sent_headers,
            auth=auth,
            timeout=(CONNECT_TIMEOUT, timeout),
            allow_redirects=False,
            verify=None if verify else False,  # None: the session's own (a test's CA bundle, else the system's)
        )
    except ssrf.RefusedDestination as error:
        # The address, never the URL (a credential), so that an operator can see what was attempted.
        logger.warning(
            "Refused outbound destination", extra={"reason": error.reason, "address": str(error.address or "")}
        )
        raise DestinationRefused(str(error), _elapsed(started)) from None
    except (requests.exceptions.InvalidURL, LocationParseError):
        # A host no resolver can take (e.g. a label over 63 characters): retrying cannot help.
        raise TransportError(
            "The destination URL's host is not a valid name", _elapsed(started), retryable=False
        ) from None
    except requests.exceptions.RequestException as error:
        # requests' messages quote the URL (a Slack URL is a credential): describe, never repeat.
        raise TransportError(_describe(error, timeout), _elapsed(started)) from None
    return HttpResponse(response.status_code, response.reason or "", response.headers, response.text, _elapsed(started))


@cache
def _quiet_insecure_warning() -> None:
    # urllib3 warns on every unverified request; the integration's owner chose it, so the warning says nothing new.
    import warnings

    from urllib3.exceptions import InsecureRequestWarning

    warnings.filterwarnings("ignore", category=InsecureRequestWarning)


def _elapsed(started: float) -> int:
    return round((time.monotonic() - started) * 1000)


def _describe(error: requests.exceptions.RequestException, timeout: float) -> str:
    import requests  # at the first request, not with this module (see _guarded_adapter)

    if isinstance(error, requests.exceptions.ConnectTimeout):
        return f"Connection timed out after {CONNECT_TIMEOUT:g} s"
    if isinstance(error, requests.exceptions.Timeout):
        return f"No response within {timeout:g} s"
    if isinstance(error, requests.exceptions.SSLError):
        return "TLS handshake failed"
    if isinstance(error, requests.exceptions.ConnectionError):
        text = repr(error).lower()
        if "reset" in text or "aborted" in text or "remotedisconnected" in text:
            return "Connection reset by the provider"
        if "name or service not known" in text or "nodename nor servname" in text or "resolve" in text:
            return "Provider host name could not be resolved"
        return "Could not connect to the provider"
    return "Request to the provider failed"


def json_object(text: str) -> dict[str, Any]:
    """A provider's answer as a JSON object, or an empty one (a proxy's HTML error page, a plain-text 401)."""
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def retry_after_seconds(value: str | None) -> float | None:
    """A Retry-After header (seconds or an HTTP date) as seconds from now, capped."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(min(int(value), MAX_RETRY_AFTER))
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, min((moment - datetime.now(UTC)).total_seconds(), MAX_RETRY_AFTER))


def is_retryable_status(status: int) -> bool:
    return status in RETRYABLE_STATUSES or status >= 500


def outcome_from_response(
    response: HttpResponse, secrets: Iterable[str] = (), *, success: bool | None = None, detail: str | None = None
) -> Outcome:
    """Success for 2xx (unless the provider says otherwise); otherwise a scrubbed error and whether to retry."""
    ok = 200 <= response.status < 300 if success is None else success
    if ok:
        return Outcome(True, response.status, response.elapsed_ms)
    if 300 <= response.status < 400:
        error = f"Provider answered with a redirect (HTTP {response.status}), which is not followed"
        return Outcome(False, response.status, response.elapsed_ms, error, retryable=False)
    error = f"Provider returned HTTP {response.status}: {response.reason}".rstrip(": ")
    # Scrubbed before it is cut: a cut could leave part of a secret that no longer matches.
    snippet = scrub(detail if detail is not None else response.text, secrets).strip().replace("\n", " ")[:200]
    if snippet:
        error += f" ({snippet})"
    return Outcome(
        False,
        response.status,
        response.elapsed_ms,
        scrub(error, secrets),
        retryable=is_retryable_status(response.status),
        retry_after=retry_after_seconds(response.headers.get("Retry-After")),
    )


def outcome_from_transport_error(error: TransportError) -> Outcome:
    """No answer at all: worth retrying, unless the SSRF guard refused the destination (nothing was sent)."""
    return Outcome(False, None, error.elapsed_ms, str(error), retryable=error.retryable)
