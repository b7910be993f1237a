"""API Gateway's Lambda authorizer flow: identity sources, policy evaluation and the per-identity cache."""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from devstack.functions import Function
from devstack.resources import Resources
from devstack.template import TemplateError, to_env_value

log = logging.getLogger(__name__)

EXPLICIT_DENY = "User is not authorized to access this resource with an explicit deny"
NOT_ALLOWED = "User is not authorized to access this resource"


class GatewayError(Exception):
    """An answer API Gateway gives itself, by gateway response type (UNAUTHORIZED, ACCESS_DENIED, …)."""

    def __init__(self, response_type: str, message: str | None) -> None:
        super().__init__(f"{response_type}: {message}")
        self.response_type = response_type
        self.message = message


@dataclass(frozen=True)
class AuthorizerConfig:
    """A Lambda authorizer as the Api's Auth.Authorizers declares it."""

    name: str
    function: str
    payload_type: str = "REQUEST"
    headers: tuple[str, ...] = ()
    query_strings: tuple[str, ...] = ()
    reauthorize_every: int = 300
    validation_expression: str | None = None


@dataclass(frozen=True)
class Policy:
    """What an authorizer returned, validated."""

    principal_id: str
    statements: tuple[Mapping[str, Any], ...]
    context: dict[str, str]
    usage_identifier_key: str | None = None  # the API key whose usage plan applies (ApiKeySourceType AUTHORIZER)


def load_authorizers(auth: Mapping[str, Any], resources: Resources) -> dict[str, AuthorizerConfig]:
    """The Lambda authorizers of an Api's (unresolved) Auth section."""
    resolver = resources.resolver
    assert resolver is not None
    configs = {}
    for name, spec in (auth.get("Authorizers") or {}).items():
        if "FunctionArn" not in spec:
            raise TemplateError(f"authorizer {name}: only Lambda authorizers are emulated locally")
        identity = resolver.resolve(spec.get("Identity") or {})
        payload_type = str(spec.get("FunctionPayloadType", "TOKEN")).upper()
        headers = identity.get("Headers") or []
        if payload_type == "TOKEN":
            headers = [identity.get("Header", "Authorization")]
        configs[name] = AuthorizerConfig(
            name=name,
            function=resources.logical_id_of(spec["FunctionArn"], f"authorizer {name}"),
            payload_type=payload_type,
            headers=tuple(str(header) for header in headers),
            query_strings=tuple(str(query) for query in identity.get("QueryStrings") or []),
            reauthorize_every=int(identity.get("ReauthorizeEvery", 300)),
            validation_expression=identity.get("ValidationExpression"),
        )
    return configs


def _wildcard(pattern: str) -> re.Pattern[str]:
    return re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern))


def _as_list(value: Any) -> list[str]:
    return [str(item) for item in value] if isinstance(value, list) else [str(value)]


def evaluate(statements: tuple[Mapping[str, Any], ...], method_arn: str) -> str | None:
    """IAM-style evaluation of execute-api:Invoke on methodArn: "Deny" beats "Allow"; None when nothing matches."""
    effects = set()
    for statement in statements:
        actions = [action.lower() for action in _as_list(statement.get("Action", []))]
        if not any(action in ("*", "execute-api:*", "execute-api:invoke") for action in actions):
            continue
        if any(_wildcard(resource).fullmatch(method_arn) for resource in _as_list(statement.get("Resource", []))):
            effects.add(str(statement.get("Effect")))
    if "Deny" in effects:
        return "Deny"
    return "Allow" if "Allow" in effects else None


def parse_policy(response: Any) -> Policy:
    """Validate an authorizer's output as API Gateway does (else AUTHORIZER_CONFIGURATION_ERROR)."""
    try:
        principal_id = response["principalId"]
        statements = response["policyDocument"]["Statement"]
        context = response.get("context") or {}
        if isinstance(statements, Mapping):
            statements = [statements]
        if not isinstance(statements, list) or not all(isinstance(s, Mapping) for s in statements):
            raise TypeError("Statement must be a list of objects")
        if not isinstance(context, Mapping) or any(isinstance(v, (dict, list)) for v in context.values()):
            raise TypeError("context values must be strings, numbers or booleans")
    except (KeyError, TypeError, AttributeError) as error:
        log.error("authorizer returned a malformed response: %s", error)
        raise GatewayError("AUTHORIZER_CONFIGURATION_ERROR", None) from error
    # REST APIs hand context values to the integration as strings.
    usage_key = response.get("usageIdentifierKey")
    return Policy(
        str(principal_id),
        tuple(statements),
        {str(k): to_env_value(v) for k, v in context.items()},
        str(usage_key) if usage_key else None,
    )


class Authorizer:
    """One authorizer with its policy cache (keyed by identity values, evaluated per methodArn)."""

    def __init__(
        self, config: AuthorizerConfig, function: Function, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.config = config
        self.function = function
        self.clock = clock
        self._cache: dict[tuple[str, ...], tuple[float, Policy]] = {}
        self._lock = threading.Lock()

    def authorize(self, event: Mapping[str, Any], method_arn: str) -> Policy:
        """Authorize a request (its proxy event): the allowing policy, or GatewayError."""
        identity = self._identity(event)
        policy = self._cached(identity)
        if policy is None:
            policy = parse_policy(self._invoke(event, method_arn, identity))
            if self.config.reauthorize_every > 0 and identity:
                with self._lock:
                    self._cache[identity] = (self.clock() + self.config.reauthorize_every, policy)
        # The cached policy is evaluated against this request's methodArn, exactly as API Gateway does.
        effect = evaluate(policy.statements, method_arn)
        if effect != "Allow":
            raise GatewayError("ACCESS_DENIED", EXPLICIT_DENY if effect == "Deny" else NOT_ALLOWED)
        return policy

    def _identity(self, event: Mapping[str, Any]) -> tuple[str, ...]:
        headers = {key.lower(): value for key, value in (event.get("headers") or {}).items()}
        query = event.get("queryStringParameters") or {}
        values = [headers.get(name.lower(), "") for name in self.config.headers]
        values += [query.get(name, "") for name in self.config.query_strings]
        # A missing or empty identity source is refused before the authorizer runs.
        if not all(values):
            raise GatewayError("UNAUTHORIZED", "Unauthorized")
        expression = self.config.validation_expression
        if self.config.payload_type == "TOKEN" and expression and not re.fullmatch(expression, values[0]):
            raise GatewayError("UNAUTHORIZED", "Unauthorized")
        return tuple(values)

    def _cached(self, identity: tuple[str, ...]) -> Policy | None:
        with self._lock:
            entry = self._cache.get(identity)
            if entry is None or entry[0] <= self.clock():
                self._cache.pop(identity, None)
                return None
            return entry[1]

    def _invoke(self, event: Mapping[str, Any], method_arn: str, identity: tuple[str, ...]) -> Any:
        if self.config.payload_type == "TOKEN":
            request: dict[str, Any] = {"type": "TOKEN", "authorizationToken": identity[0], "methodArn": method_arn}
        else:
            omitted = ("body", "isBase64Encoded")
            request = {
                "type": "REQUEST",
                "methodArn": method_arn,
                **{key: value for key, value in event.items() if key not in omitted},
            }
            request["requestContext"] = {k: v for k, v in event["requestContext"].items() if k != "authorizer"}
        try:
            return self.function.invoke(request)
        except Exception as error:
            if str(error) == "Unauthorized":
                raise GatewayError("UNAUTHORIZED", "Unauthorized") from error
            log.exception("authorizer %s failed", self.config.name)
            raise GatewayError("AUTHORIZER_FAILURE", None) from error
