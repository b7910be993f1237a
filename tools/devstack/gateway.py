"""An API Gateway REST API emulator: the template's routes and authorizer, served over HTTP."""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from devstack.authorizer import Authorizer, AuthorizerConfig, GatewayError, load_authorizers
from devstack.functions import IMPLICIT_API, Function
from devstack.proxy import GatewayResponses, HttpRequest, HttpResponse, proxy_event, proxy_response
from devstack.resources import Resources
from devstack.routing import Route, RouteTable
from devstack.template import ACCOUNT_ID, PARTITION, REGION, Template, TemplateError
from devstack.throttling import AccountLimits, UsageLimiter, api_key_required, load_limits

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 10 * 1024 * 1024
INTERNAL_ERROR = b'{"message": "Internal server error"}'
CONSOLE_PATH = "/console/"
# The console talks only to its own origin and runs no inline code: the policy CloudFront also sends.
CONSOLE_HEADERS = [
    (
        "Content-Security-Policy",
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    ),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("Cache-Control", "no-cache"),
]
# Fixed, not mimetypes: its answer for .js depends on the machine's /etc/mime.types.
CONSOLE_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
}


@dataclass(frozen=True)
class ApiConfig:
    """One REST API of the template: its stage, routes, authorizers and gateway responses."""

    logical_id: str
    api_id: str
    stage: str
    routes: RouteTable
    authorizers: dict[str, AuthorizerConfig]
    responses: GatewayResponses
    # Per-account limits: each request's API key from the authorizer, limited by the stage's usage plan.
    api_key_required: bool = False
    account_limits: AccountLimits | None = None


def load_api(template: Template, resources: Resources, functions: Mapping[str, Function]) -> ApiConfig:
    """The API that the functions' Api events attach to, read from the template."""
    resolver = resources.resolver
    assert resolver is not None
    events = [(function, event) for function in functions.values() for event in function.api_events]
    api_ids = sorted({event.api for _, event in events}) or [IMPLICIT_API]
    if len(api_ids) > 1:
        raise TemplateError(f"the local stack serves one REST API; the template has {', '.join(api_ids)}")
    logical_id = api_ids[0]
    if logical_id in template.resources:
        props = template.properties(logical_id)
        api_id, stage = resources.ref(logical_id), str(resolver.resolve(props.get("StageName", "Prod")))
    else:
        props = (template.body.get("Globals") or {}).get("Api") or {}
        api_id, stage = "local", "Prod"
    routes = []
    seen: set[tuple[str, str]] = set()
    for function, event in events:
        if (event.path, event.method) in seen:
            raise TemplateError(f"{event.method} {event.path} is declared twice")
        seen.add((event.path, event.method))
        routes.append(Route(event.path, event.method, function.logical_id, event.authorizer))
    return ApiConfig(
        logical_id=logical_id,
        api_id=api_id,
        stage=stage,
        routes=RouteTable(routes),
        authorizers=load_authorizers(props.get("Auth") or {}, resources),
        responses=GatewayResponses(resolver.resolve(props.get("GatewayResponses") or {})),
        api_key_required=api_key_required(props),
        account_limits=load_limits(template, resources, logical_id) if logical_id in template.resources else None,
    )


class Gateway:
    """Serves one REST API over HTTP, invoking its functions in-process."""

    def __init__(
        self,
        api: ApiConfig,
        functions: Mapping[str, Function],
        host: str = "127.0.0.1",
        port: int = 3000,
        console_dir: Path | None = None,
    ) -> None:
        self.api = api
        self.console_dir = console_dir
        self.functions = functions
        self.host = host
        self.port = port
        self.authorizers = {
            name: Authorizer(config, functions[config.function]) for name, config in api.authorizers.items()
        }
        self.usage = UsageLimiter(api.account_limits) if api.account_limits else None
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The base URL, with the port actually bound."""
        return f"http://{self.host}:{self.port}"

    def start(self) -> None:
        """Bind the port and serve in a background thread."""
        self._server = _Server((self.host, self.port), _RequestHandler)
        self._server.gateway = self
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.2}, name="devstack-gateway", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and release the port."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def error(self, response_type: str, message: str | None = None, request_id: str | None = None) -> HttpResponse:
        """A gateway response of the given type."""
        return self.api.responses.render(response_type, message, request_id or str(uuid.uuid4()))

    def serve_console(self, method: str, path: str) -> HttpResponse:
        """A file of the console folder (what S3 + CloudFront serve in AWS), from the API's own origin."""
        assert self.console_dir is not None
        if path == CONSOLE_PATH.rstrip("/"):
            return HttpResponse(301, [("Location", CONSOLE_PATH)])
        if method not in ("GET", "HEAD"):
            return HttpResponse(405, [("Allow", "GET, HEAD"), ("Content-Type", "text/plain")], b"Method not allowed")
        root = self.console_dir.resolve()
        file = (root / (path.removeprefix(CONSOLE_PATH) or "index.html")).resolve()
        if not file.is_relative_to(root) or not file.is_file():
            return HttpResponse(404, [("Content-Type", "text/plain")], b"Not found")
        content_type = CONSOLE_TYPES.get(file.suffix, "application/octet-stream")
        return HttpResponse(200, [("Content-Type", content_type), *CONSOLE_HEADERS], file.read_bytes())

    def handle(self, request: HttpRequest) -> HttpResponse:
        """Route, authorize and invoke: the whole of one request."""
        request_id = str(uuid.uuid4())
        started = time.time()
        if len(request.body) > MAX_BODY_BYTES:
            return self.error("REQUEST_TOO_LARGE", None, request_id)
        path = unquote(urlsplit(request.target).path) or "/"
        if self.console_dir is not None and (path + "/").startswith(CONSOLE_PATH):
            return self.serve_console(request.method, path)
        match = self.api.routes.match(request.method, path)
        if match is None:
            return self.error("MISSING_AUTHENTICATION_TOKEN", None, request_id)
        route = match.route
        event = proxy_event(
            request,
            route,
            match.path_parameters,
            api_id=self.api.api_id,
            stage=self.api.stage,
            request_id=request_id,
            now=started,
        )
        if route.authorizer is not None:
            method_arn = (
                f"arn:{PARTITION}:execute-api:{REGION}:{ACCOUNT_ID}:{self.api.api_id}/{self.api.stage}"
                f"/{request.method}/{path.lstrip('/')}"
            )
            try:
                policy = self.authorizers[route.authorizer].authorize(event, method_arn)
            except GatewayError as error:
                return self.error(error.response_type, error.message, request_id)
            if self.api.api_key_required:
                refused = self.usage.admit(policy.usage_identifier_key) if self.usage else None
                if refused is not None or not policy.usage_identifier_key:
                    return self.error(refused or "INVALID_API_KEY", None, request_id)
            event["requestContext"]["authorizer"] = {
                "principalId": policy.principal_id,
                **policy.context,
                "integrationLatency": int((time.time() - started) * 1000),
            }
        function = self.functions[route.function]
        try:
            response = proxy_response(function.invoke(event), request_id)
        except ValueError as error:
            log.error("%s returned a malformed Lambda proxy response: %s", function.logical_id, error)
            response = HttpResponse(502, [("Content-Type", "application/json")], INTERNAL_ERROR)
        except Exception:
            log.exception("%s raised", function.logical_id)
            response = HttpResponse(502, [("Content-Type", "application/json")], INTERNAL_ERROR)
        log.debug("%s %s -> %d (%s)", request.method, request.target, response.status, function.logical_id)
        return response


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # socketserver listens with a backlog of 5: a burst of clients overflowed it and saw resets. A gateway queues
    # a burst (each accepted connection gets its thread), so the queue holds far more than any test's burst.
    request_queue_size = 1024
    gateway: Gateway

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hangs up mid-response is not worth a traceback.
        log.debug("connection from %s failed", client_address, exc_info=True)


def _debug() -> bool:
    return os.environ.get("DEVSTACK_DEBUG", "").lower() not in ("", "0", "false", "no")


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def version_string(self) -> str:
        return "devstack"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 — the base class's signature
        if _debug():
            super().log_message(format, *args)

    def parse_request(self) -> bool:
        if not super().parse_request():
            return False
        # http.server answers a method it has no do_<METHOD> for with its own 501 HTML page. API Gateway takes any
        # method (the template's ANY routes answer 405 on a known path, 404 elsewhere), so every method is served.
        setattr(self, f"do_{self.command}", self._serve)
        return True

    def _read_chunked(self) -> bytes | None:
        body = bytearray()
        while True:
            size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline().strip():
                    pass  # trailers
                return bytes(body)
            body += self.rfile.read(size)
            self.rfile.readline()
            if len(body) > MAX_BODY_BYTES:
                return None

    def _drain(self, length: int) -> None:
        # Reading (and dropping) the body lets the client see the 413 instead of a reset connection.
        remaining = min(length, 8 * MAX_BODY_BYTES)
        while remaining > 0:
            chunk = self.rfile.read(min(remaining, 1 << 16))
            if not chunk:
                break
            remaining -= len(chunk)

    def _serve(self) -> None:
        gateway = self.server.gateway
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            self.send_error(400, "Bad Content-Length")
            return
        body: bytes | None
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            body = self._read_chunked()
        elif length > MAX_BODY_BYTES:
            self._drain(length)
            body = None
        else:
            body = self.rfile.read(length) if length else b""
        if body is None:
            self.close_connection = True
            response = gateway.error("REQUEST_TOO_LARGE")
        else:
            request = HttpRequest(self.command, self.path, list(self.headers.items()), body, self.client_address[0])
            response = gateway.handle(request)
        self.send_response(response.status)
        for name, value in response.headers:
            if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)
