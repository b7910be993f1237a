"""The HTTP side of API Gateway: proxy events, proxy responses and gateway responses."""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from devstack.routing import Route
from devstack.template import ACCOUNT_ID

# API Gateway's own status code and message for the gateway responses this emulator produces.
RESPONSE_TYPES: dict[str, tuple[int, str | None]] = {
    "ACCESS_DENIED": (403, "User is not authorized to access this resource"),
    "AUTHORIZER_CONFIGURATION_ERROR": (500, None),
    "AUTHORIZER_FAILURE": (500, None),
    "INVALID_API_KEY": (403, "Forbidden"),
    "MISSING_AUTHENTICATION_TOKEN": (403, "Missing Authentication Token"),
    "QUOTA_EXCEEDED": (429, "Limit Exceeded"),
    "REQUEST_TOO_LARGE": (413, "Request Too Long"),
    "THROTTLED": (429, "Too Many Requests"),
    "UNAUTHORIZED": (401, "Unauthorized"),
}
DEFAULT_TEMPLATE = '{"message":$context.error.messageString}'
_CONTEXT_VARIABLE = re.compile(r"\$context\.([A-Za-z.]+)")


@dataclass(frozen=True)
class HttpRequest:
    """A request as it reached the gateway."""

    method: str
    target: str
    headers: list[tuple[str, str]]
    body: bytes = b""
    source_ip: str = "127.0.0.1"


@dataclass
class HttpResponse:
    """What the gateway answers."""

    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    def header(self, name: str) -> str | None:
        """The last value of a header (case-insensitive)."""
        values = [value for key, value in self.headers if key.lower() == name.lower()]
        return values[-1] if values else None


class GatewayResponses:
    """The Api's GatewayResponses, with API Gateway's DEFAULT_4XX/5XX fallbacks and built-in defaults."""

    def __init__(self, configured: Mapping[str, Any]) -> None:
        self.configured = dict(configured)

    def render(self, response_type: str, message: str | None, request_id: str) -> HttpResponse:
        """The response for a gateway error, with $context.error.* filled in."""
        default_status, default_message = RESPONSE_TYPES.get(response_type, (500, None))
        message = message if message is not None else default_message
        specific = self.configured.get(response_type) or {}
        fallback = self.configured.get("DEFAULT_4XX" if default_status < 500 else "DEFAULT_5XX") or {}
        status = int(specific.get("StatusCode") or fallback.get("StatusCode") or default_status)
        templates = specific.get("ResponseTemplates") or fallback.get("ResponseTemplates") or {}
        content_type, template = next(
            ((ct, t) for ct, t in templates.items() if ct == "application/json"),
            next(iter(templates.items()), ("application/json", DEFAULT_TEMPLATE)),
        )
        values = {
            "error.messageString": json.dumps(message),
            "error.message": message or "",
            "error.responseType": response_type,
            "requestId": request_id,
        }
        body = _CONTEXT_VARIABLE.sub(lambda m: values.get(m.group(1), m.group(0)), template)
        headers = [
            ("Content-Type", content_type),
            ("x-amzn-RequestId", request_id),
            ("x-amzn-ErrorType", response_type),
        ]
        parameters = specific.get("ResponseParameters") or fallback.get("ResponseParameters") or {}
        for name, value in (parameters.get("Headers") or {}).items():
            # Only static values ('…') have a meaning without a real request mapping.
            if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == "'":
                headers.append((name, value[1:-1]))
        return HttpResponse(status, headers, body.encode())


def _multi(pairs: list[tuple[str, str]]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for key, value in pairs:
        grouped.setdefault(key, []).append(value)
    return grouped


def proxy_event(
    request: HttpRequest,
    route: Route,
    path_parameters: dict[str, str],
    *,
    api_id: str,
    stage: str,
    request_id: str,
    now: float,
) -> dict[str, Any]:
    """The REST API Lambda proxy (payload 1.0) event for a request."""
    url = urlsplit(request.target)
    path = unquote(url.path) or "/"
    query = parse_qsl(url.query, keep_blank_values=True)
    headers = _multi(request.headers)
    header_lookup = {key.lower(): values[-1] for key, values in headers.items()}
    multi_query = _multi(query)
    return {
        "resource": route.path,
        "path": path,
        "httpMethod": request.method,
        "headers": {key: values[-1] for key, values in headers.items()} or None,
        "multiValueHeaders": headers or None,
        "queryStringParameters": {key: values[-1] for key, values in multi_query.items()} or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": path_parameters or None,
        "stageVariables": None,
        "requestContext": {
            "resourceId": "local",
            "resourcePath": route.path,
            "httpMethod": request.method,
            "extendedRequestId": request_id,
            "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "path": f"/{stage}{path}",
            "accountId": ACCOUNT_ID,
            "protocol": "HTTP/1.1",
            "stage": stage,
            "domainPrefix": header_lookup.get("host", "localhost").split(".")[0],
            "requestTimeEpoch": int(now * 1000),
            "requestId": request_id,
            "identity": {
                "sourceIp": request.source_ip,
                "userAgent": header_lookup.get("user-agent"),
                "accessKey": None,
                "accountId": None,
                "caller": None,
                "user": None,
                "userArn": None,
                "apiKey": None,
                "apiKeyId": None,
                "cognitoIdentityId": None,
            },
            "domainName": header_lookup.get("host", "localhost"),
            "apiId": api_id,
        },
        "body": request.body.decode("utf-8", errors="replace") if request.body else None,
        "isBase64Encoded": False,
    }


def proxy_response(result: Any, request_id: str) -> HttpResponse:
    """Turn a function's proxy result into the HTTP response, or raise ValueError when malformed."""
    if not isinstance(result, dict) or isinstance(result.get("statusCode"), bool):
        raise ValueError("the result is not an object with a statusCode")
    try:
        status = int(result["statusCode"])
    except (KeyError, TypeError, ValueError):
        raise ValueError("statusCode is missing or not a number") from None
    single = result.get("headers") or {}
    multi = result.get("multiValueHeaders") or {}
    body = result.get("body")
    if not isinstance(single, dict) or not isinstance(multi, dict) or not isinstance(body, (str, type(None))):
        raise ValueError("headers, multiValueHeaders or body have the wrong type")
    if not all(isinstance(values, list) for values in multi.values()):
        raise ValueError("multiValueHeaders values must be lists")
    # Both header maps merge; a name present in multiValueHeaders takes its values from there.
    multi_names = {name.lower() for name in multi}
    headers = [(str(name), str(value)) for name, values in multi.items() for value in values]
    headers += [(str(name), str(value)) for name, value in single.items() if name.lower() not in multi_names]
    raw = (base64.b64decode(body) if result.get("isBase64Encoded") else body.encode()) if body else b""
    response = HttpResponse(status, headers, raw)
    if response.header("Content-Type") is None:
        response.headers.append(("Content-Type", "application/json"))
    response.headers.append(("x-amzn-RequestId", request_id))
    return response
