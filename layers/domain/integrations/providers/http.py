"""Outbound HTTP to providers: bounded timeouts, no redirects, and errors that never carry credentials.

Every connection goes through the SSRF guard (``ssrf``): the host is resolved once when the connection is
opened, refused when any address is not globally routable, and the socket is connected to one of exactly
those addresses. Only the socket's peer changes: the request's Host header, TLS SNI and certificate
verification all still use the URL's host name, as urllib3 does for any connection.
``ALLOW_LOCAL_DESTINATIONS`` (local stack and tests) turns the guard off.

Every request is bounded as a whole, not per socket operation: ``requests``' timeouts restart at each
packet, so a receiver dripping one byte every two seconds would hold an attempt forever. A deadline watch
(``_Deadline``) shuts the request's socket down when the attempt's time is up, whatever it is waiting for
(TLS handshake, sending, the status line, headers or body), and the attempt fails as a timeout; connecting
gets what is left of the deadline, address after address. (The name lookup before any socket exists is bounded
by the resolver's own timeout.) Only the
first ``ANSWER_LIMIT`` bytes of an answer are read (enough for any provider's error message); the rest is
never read, and the connection is closed instead of drained.
"""

from __future__ import annotations

import contextlib
import email.utils
import json
import socket
import threading
import time
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from functools import cache
from typing import TYPE_CHECKING, Any, NamedTuple

from urllib3 import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    LocationParseError,
    NameResolutionError,
    NewConnectionError,
    ReadTimeoutError,
)
from urllib3.util import connection

from integrations.platform import settings
from integrations.platform.observability import logger
from integrations.providers import ssrf
from integrations.providers.delivery import Outcome

if TYPE_CHECKING:
    import requests
    import requests.adapters

USER_AGENT = "Apviso-Integrations/1.0 (+https://apviso.com)"
ATTEMPT_DEADLINE = 10.0  # seconds for one attempt's HTTP, all in: connect, TLS, send, the whole answer
CONNECT_TIMEOUT = 3.05  # within the deadline: a dead host fails fast, leaving the rest of it unused
ANSWER_LIMIT = 64 * 1024  # bytes of an answer kept: any provider's error message fits; the rest is not read
RETRYABLE_STATUSES = frozenset({408, 425, 429})
MAX_RETRY_AFTER = 12 * 3600  # SQS cannot hide a message longer
REDACTED = "[redacted]"


class HttpResponse(NamedTuple):
    status: int
    reason: str
    headers: Mapping[str, str]
    text: str  # at most ANSWER_LIMIT bytes of the body, decoded
    elapsed_ms: int
    truncated: bool = False  # the body was longer than ANSWER_LIMIT; the rest was not read


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


class _Deadline:
    """The time limit of one request: when it passes, the sockets the request is using are shut down.

    Shutting a socket down (not closing it: the descriptor stays owned by its connection) wakes whatever
    is blocked on it at once; the request then fails, and ``expired`` tells that it was the deadline.
    """

    def __init__(self, expires_at: float) -> None:
        self.expires_at = expires_at
        self.expired = False
        self._lock = threading.Lock()
        self._connections: set[_GuardedConnection] = set()
        self._timer = threading.Timer(max(0.0, expires_at - time.monotonic()), self._expire)
        self._timer.daemon = True

    def remaining(self) -> float:
        return max(0.0, self.expires_at - time.monotonic())

    def __enter__(self) -> _Deadline:
        _current.deadline = self
        self._timer.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        # Before the connection goes back to the pool: another request may take it next.
        self._timer.cancel()
        _current.deadline = None
        with self._lock:
            for connection in self._connections:
                connection.release_watch(self)
            self._connections.clear()

    def watch(self, connection: _GuardedConnection) -> None:
        with self._lock:
            self._connections.add(connection)
            connection.watch_with(self)
            if self.expired:
                connection.interrupt(self)

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            for connection in self._connections:
                connection.interrupt(self)


_current = threading.local()  # the _Deadline of the request this thread is making, if any


def _within_deadline(timeout: Any) -> Any:
    """A socket timeout no longer than what is left of this thread's request deadline (if it has one)."""
    deadline: _Deadline | None = getattr(_current, "deadline", None)
    if deadline is None or not isinstance(timeout, int | float):
        return timeout
    return min(timeout, deadline.remaining())


def _watch_current(connection: _GuardedConnection) -> None:
    deadline: _Deadline | None = getattr(_current, "deadline", None)
    if deadline is not None:
        deadline.watch(connection)


class _GuardedConnection(HTTPConnection):
    """Resolves and checks the host when the socket is opened, then connects only to a checked address.

    Each connection keeps a duplicate of its socket's descriptor, so that a request's deadline can shut the
    socket down even while TLS wraps it, and never touches a descriptor the connection has since closed.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._interrupt_lock = threading.Lock()
        self._interrupter: socket.socket | None = None
        self._watched_by: _Deadline | None = None

    def _new_conn(self) -> socket.socket:
        sock = self._open_socket()
        with self._interrupt_lock:
            if self._interrupter is not None:
                self._interrupter.close()
            self._interrupter = sock.dup()
        _watch_current(self)  # the TLS handshake that follows is within the deadline too
        return sock

    def request(  # type: ignore[override]  # urllib3's own signature, with its options passed through
        self, method: str, url: str, body: Any = None, headers: Mapping[str, str] | None = None, **options: Any
    ) -> None:
        _watch_current(self)  # a pooled connection, reused by this request
        super().request(method, url, body, headers, **options)

    def close(self) -> None:
        try:
            super().close()
        finally:
            with self._interrupt_lock:
                if self._interrupter is not None:
                    self._interrupter.close()
                    self._interrupter = None

    def watch_with(self, deadline: _Deadline) -> None:
        with self._interrupt_lock:
            self._watched_by = deadline

    def release_watch(self, deadline: _Deadline | None) -> None:
        """No longer interruptible by ``deadline`` (by any deadline, when None: the connection went idle)."""
        with self._interrupt_lock:
            if deadline is None or self._watched_by is deadline:
                self._watched_by = None

    def interrupt(self, deadline: _Deadline) -> None:
        """Shut the socket down, if ``deadline`` still governs this connection (not a later request's)."""
        with self._interrupt_lock:
            if self._watched_by is deadline and self._interrupter is not None:
                with contextlib.suppress(OSError):  # already disconnected
                    self._interrupter.shutdown(socket.SHUT_RDWR)

    def _open_socket(self) -> socket.socket:
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
            timeout = _within_deadline(self.timeout)  # several silent addresses cannot add up past the deadline
            if timeout == 0:
                failure = TimeoutError()
                break
            try:
                return connection.create_connection(
                    (str(address), self.port),
                    timeout,
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


def _idle(connection: object) -> None:
    # Back in the pool: the deadline of the request that used it may no longer shut it down.
    if isinstance(connection, _GuardedConnection):
        connection.release_watch(None)


class _GuardedPool(HTTPConnectionPool):
    ConnectionCls = _GuardedConnection

    def _put_conn(self, conn: Any) -> None:
        _idle(conn)
        super()._put_conn(conn)


class _GuardedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _GuardedHTTPSConnection

    def _put_conn(self, conn: Any) -> None:
        _idle(conn)
        super()._put_conn(conn)


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


def prepare() -> None:
    """Import what sending needs, build the pooled session and prepare, never send, the requests ``request`` makes
    (a SnapStart hook does it before the snapshot)."""
    import requests  # at the first request, not with this module (see _guarded_adapter)

    from integrations.platform.snapstart import PRIMING_URL

    session = _session()
    # requests checks its arguments' types against abstract base classes (Mapping, Iterable), and each first check
    # of a type walks every registered subclass (a hundred, with Powertools' event classes); Python then caches the
    # answer. Made here, as Session.request makes them with a JSON or a bytes body, they are in the snapshot.
    headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
    bodies: list[dict[str, Any]] = [{"json": {}, "data": {}}, {"data": b"{}"}]
    for body in bodies:
        prepared = session.prepare_request(requests.Request("POST", PRIMING_URL, headers=headers, params={}, **body))
        session.merge_environment_settings(PRIMING_URL, {}, True, None, None)
        prepared.headers.copy()  # as urllib3 copies the headers it sends


def close_connections() -> None:
    """Close the session's pooled connections, if it has any (after a SnapStart restore); it stays usable."""
    if _session.cache_info().currsize:
        _session().close()


class AttemptDeadline(NamedTuple):
    """When an attempt's HTTP must be over (``time.monotonic()``), and the allowance it was given."""

    expires_at: float
    seconds: float

    def remaining(self) -> float:
        return max(0.0, self.expires_at - time.monotonic())


def attempt_deadline(seconds: float | None = None) -> AttemptDeadline:
    """A deadline from now: ATTEMPT_DEADLINE unless told. An attempt of several requests shares one."""
    seconds = ATTEMPT_DEADLINE if seconds is None else seconds
    return AttemptDeadline(time.monotonic() + seconds, seconds)


def post(
    url: str,
    *,
    json_body: Any = None,
    data: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    auth: tuple[str, str] | None = None,
    deadline: AttemptDeadline | None = None,
    verify: bool = True,
) -> HttpResponse:
    """POST and return the answer, whatever its status; raises TransportError when there is none."""
    return request(
        "POST", url, json_body=json_body, data=data, headers=headers, auth=auth, deadline=deadline, verify=verify
    )


def request(
    method: str,
    url: str,
    *,
    json_body: Any = None,
    data: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    auth: tuple[str, str] | None = None,
    deadline: AttemptDeadline | None = None,
    verify: bool = True,
) -> HttpResponse:
    """One HTTP request with the service's User-Agent, no redirects, over by ``deadline`` (a new attempt's if None).

    The answer's body is read up to ANSWER_LIMIT bytes; a longer one is cut there and its connection closed.
    ``verify=False`` skips TLS certificate verification: only for an integration whose owner opted in (a Splunk
    HEC with its self-signed certificate); the SSRF guard still applies.
    """
    import requests  # at the first request, not with this module (see _guarded_adapter)

    if not verify:
        _quiet_insecure_warning()
    deadline = deadline or attempt_deadline()
    # identity: the prefix read is of the bytes as sent, never of a decompressed (and unbounded) stream.
    sent_headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity", **(headers or {})}
    started = time.monotonic()
    with _Deadline(deadline.expires_at) as watch:
        try:
            response = _session().request(
                method,
                url,
                json=json_body,
                data=data,
                headers=sent_headers,
                auth=auth,
                # Per socket operation, within the deadline; the watch bounds the whole.
                timeout=(min(CONNECT_TIMEOUT, deadline.remaining()), deadline.remaining()),
                allow_redirects=False,
                stream=True,
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
            message = _timed_out(deadline) if watch.expired else _describe(error, deadline)
            raise TransportError(message, _elapsed(started)) from None
        try:
            body, truncated = _read_prefix(response)
        except (OSError, HTTPError) as error:  # urllib3's and the socket's own, as the raw stream raises them
            message = _timed_out(deadline) if watch.expired or isinstance(error, ReadTimeoutError) else _cut_off(error)
            raise TransportError(message, _elapsed(started)) from None
        finally:
            response.close()  # a connection with unread bytes is closed; a fully read one is back in the pool
    return HttpResponse(
        response.status_code,
        response.reason or "",
        response.headers,
        _decode(body, response),
        _elapsed(started),
        truncated=truncated,
    )


def _read_prefix(response: requests.Response) -> tuple[bytes, bool]:
    """At most ANSWER_LIMIT bytes of the body, and whether there was more (left unread)."""
    wanted = ANSWER_LIMIT + 1  # one byte more tells a body of exactly the limit from a longer one
    chunks: list[bytes] = []
    while wanted > 0:
        chunk = response.raw.read(min(wanted, 16 * 1024), decode_content=False)
        if not chunk:
            break
        chunks.append(chunk)
        wanted -= len(chunk)
    body = b"".join(chunks)
    return body[:ANSWER_LIMIT], len(body) > ANSWER_LIMIT


def _decode(body: bytes, response: requests.Response) -> str:
    from requests.utils import get_encoding_from_headers

    try:
        return body.decode(get_encoding_from_headers(response.headers) or "utf-8", errors="replace")
    except LookupError:  # a charset no codec knows
        return body.decode("utf-8", errors="replace")


@cache
def _quiet_insecure_warning() -> None:
    # urllib3 warns on every unverified request; the integration's owner chose it, so the warning says nothing new.
    import warnings

    from urllib3.exceptions import InsecureRequestWarning

    warnings.filterwarnings("ignore", category=InsecureRequestWarning)


def _elapsed(started: float) -> int:
    return round((time.monotonic() - started) * 1000)


def _timed_out(deadline: AttemptDeadline) -> str:
    return f"Timeout: no complete response within {deadline.seconds:g} s"


def _cut_off(error: Exception) -> str:
    text = repr(error).lower()
    if "reset" in text or "aborted" in text:
        return "Connection reset by the provider"
    return "The provider's answer was cut off"


def _describe(error: requests.exceptions.RequestException, deadline: AttemptDeadline) -> str:
    import requests  # at the first request, not with this module (see _guarded_adapter)

    if isinstance(error, requests.exceptions.ConnectTimeout):
        return "Timeout: could not connect to the provider in time"
    if isinstance(error, requests.exceptions.Timeout):
        return _timed_out(deadline)
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
