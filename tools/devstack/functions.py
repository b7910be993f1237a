"""The function table read from the template, and lazy, collision-free loading of each handler."""

from __future__ import annotations

import importlib.util
import json
import logging
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devstack.resources import Resources
from devstack.template import Template, TemplateError, to_env_value

log = logging.getLogger(__name__)

# The API SAM creates when an Api event names no RestApiId.
IMPLICIT_API = "ServerlessRestApi"

Handler = Callable[[Any, Any], Any]


@dataclass(frozen=True)
class ApiEvent:
    """An Api event: the route it serves and the authorizer that guards it (None = open)."""

    name: str
    path: str
    method: str
    api: str
    authorizer: str | None


@dataclass(frozen=True)
class SqsEvent:
    """An SQS event source: the queue's logical id and how Lambda would batch it."""

    name: str
    queue: str
    batch_size: int
    report_batch_item_failures: bool
    enabled: bool


class FunctionError(Exception):
    """A function could not be loaded or its result could not be returned, as Lambda would report."""


class LambdaContext:
    """The subset of Lambda's context object that handlers and Powertools read."""

    def __init__(self, function: Function, request_id: str | None = None) -> None:
        self.function_name = function.name
        self.function_version = "$LATEST"
        self.invoked_function_arn = function.arn
        self.memory_limit_in_mb = function.memory_size
        self.aws_request_id = request_id or str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function.name}"
        self.log_stream_name = f"local/[$LATEST]{uuid.uuid4().hex}"
        self.identity = None
        self.client_context = None
        self._deadline = time.monotonic() + function.timeout

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before the function's Timeout."""
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class Function:
    """One AWS::Serverless::Function, invoked in-process."""

    def __init__(
        self,
        *,
        logical_id: str,
        name: str,
        arn: str,
        code_uri: Path,
        handler: str,
        environment: Mapping[str, str],
        timeout: int,
        memory_size: int,
        api_events: tuple[ApiEvent, ...] = (),
        sqs_events: tuple[SqsEvent, ...] = (),
    ) -> None:
        self.logical_id = logical_id
        self.name = name
        self.arn = arn
        self.code_uri = code_uri
        self.handler = handler
        self.environment = dict(environment)
        self.timeout = timeout
        self.memory_size = memory_size
        self.api_events = api_events
        self.sqs_events = sqs_events
        self._loaded: Handler | None = None
        # One invocation at a time per function, as one Lambda container would run them.
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Function({self.logical_id})"

    @property
    def module_name(self) -> str:
        """The unique sys.modules name its handler module is loaded under."""
        return f"_devstack_fn_{self.logical_id}"

    @property
    def handler_file(self) -> Path:
        """The file that defines the handler (app.lambda_handler → <CodeUri>/app.py)."""
        module_path = self.handler.rpartition(".")[0]
        return self.code_uri / (module_path.replace(".", "/") + ".py")

    def invoke(self, event: Any, *, request_id: str | None = None) -> Any:
        """Run the handler on a JSON copy of the event and return its JSON-serialisable result."""
        payload = json.loads(json.dumps(event))
        with self._lock:
            handler = self._load()
            started = time.monotonic()
            result = handler(payload, LambdaContext(self, request_id))
            elapsed = time.monotonic() - started
        if elapsed > self.timeout:
            log.warning(
                "%s ran %.1f s, past its Timeout of %d s (Lambda would have stopped it)",
                self.logical_id,
                elapsed,
                self.timeout,
            )
        try:
            return json.loads(json.dumps(result))
        except (TypeError, ValueError) as error:
            raise FunctionError(f"Runtime.MarshalError: {self.logical_id} returned {error}") from error

    def _load(self) -> Handler:
        if self._loaded is None:
            module_path, _, attribute = self.handler.rpartition(".")
            spec = importlib.util.spec_from_file_location(self.module_name, self.handler_file)
            if not module_path or spec is None or spec.loader is None or not self.handler_file.is_file():
                raise FunctionError(f"{self.logical_id}: handler {self.handler} not found at {self.handler_file}")
            module = importlib.util.module_from_spec(spec)
            sys.modules[self.module_name] = module
            try:
                spec.loader.exec_module(module)
            except BaseException:
                # A failed cold start is retried on the next invocation, like Lambda's init phase.
                del sys.modules[self.module_name]
                raise
            handler = getattr(module, attribute, None)
            if not callable(handler):
                raise FunctionError(f"{self.logical_id}: {self.handler_file} has no function {attribute}")
            self._loaded = handler
        return self._loaded


def _api_event(template: Template, name: str, props: Mapping[str, Any]) -> ApiEvent:
    api = str(props["RestApiId"]["Ref"]) if isinstance(props.get("RestApiId"), Mapping) else IMPLICIT_API
    if api in template.resources:
        auth = template.properties(api).get("Auth") or {}
    else:
        auth = ((template.body.get("Globals") or {}).get("Api") or {}).get("Auth") or {}
    authorizer = (props.get("Auth") or {}).get("Authorizer", auth.get("DefaultAuthorizer"))
    method = str(props["Method"]).upper()
    return ApiEvent(name, str(props["Path"]), method, api, None if authorizer in (None, "NONE") else str(authorizer))


def _sqs_event(name: str, props: Mapping[str, Any], resources: Resources) -> SqsEvent:
    resolver = resources.resolver
    assert resolver is not None
    values = resolver.resolve(dict(props))
    return SqsEvent(
        name=name,
        queue=resources.logical_id_of(props["Queue"], f"SQS event {name}"),
        batch_size=int(values.get("BatchSize", 10)),
        report_batch_item_failures="ReportBatchItemFailures" in values.get("FunctionResponseTypes", []),
        enabled=to_env_value(values.get("Enabled", True)) == "true",
    )


def load_functions(template: Template, resources: Resources) -> dict[str, Function]:
    """Every AWS::Serverless::Function of the template, Globals merged and values resolved."""
    resolver = resources.resolver
    if resolver is None:
        raise TemplateError("resources have no resolver; build them with provision() or plan()")
    functions: dict[str, Function] = {}
    for logical_id in template.of_type("AWS::Serverless::Function"):
        if logical_id not in resources:
            continue  # its Condition is false
        props = template.properties(logical_id)
        variables = resolver.resolve((props.get("Environment") or {}).get("Variables") or {})
        code_uri = resolver.resolve(props.get("CodeUri"))
        if not isinstance(code_uri, str):
            raise TemplateError(f"{logical_id}: only a local CodeUri folder can run locally, not {code_uri!r}")
        api_events: list[ApiEvent] = []
        sqs_events: list[SqsEvent] = []
        for event_name, event in (props.get("Events") or {}).items():
            event_props = event.get("Properties") or {}
            if event.get("Type") == "Api":
                api_events.append(_api_event(template, event_name, event_props))
            elif event.get("Type") == "SQS":
                sqs_events.append(_sqs_event(event_name, event_props, resources))
            else:
                log.warning("%s: %s event %s is not emulated locally", logical_id, event.get("Type"), event_name)
        functions[logical_id] = Function(
            logical_id=logical_id,
            name=resources[logical_id].name,
            arn=resources[logical_id].arn,
            code_uri=(template.base_dir / code_uri).resolve(),
            handler=str(resolver.resolve(props.get("Handler", "app.lambda_handler"))),
            environment={str(key): to_env_value(value) for key, value in variables.items()},
            timeout=int(resolver.resolve(props.get("Timeout", 3))),
            memory_size=int(resolver.resolve(props.get("MemorySize", 128))),
            api_events=tuple(api_events),
            sqs_events=tuple(sqs_events),
        )
    return functions


def merged_environment(functions: Mapping[str, Function]) -> dict[str, str]:
    """The union of the functions' variables; they share one process, so a differing value is reported."""
    merged: dict[str, str] = {}
    owner: dict[str, str] = {}
    for function in functions.values():
        for key, value in function.environment.items():
            if key in merged and merged[key] != value:
                log.warning(
                    "%s differs between %s and %s; the local stack uses %r",
                    key,
                    owner[key],
                    function.logical_id,
                    merged[key],
                )
                continue
            merged.setdefault(key, value)
            owner.setdefault(key, function.logical_id)
    return merged


def layer_paths(template: Template, resources: Resources) -> list[Path]:
    """The local folders of the template's layers, which go on sys.path like Lambda's /opt/python."""
    paths = []
    for logical_id in template.of_type("AWS::Serverless::LayerVersion"):
        if logical_id in resources and resources.resolver is not None:
            content = resources.resolver.resolve(template.properties(logical_id).get("ContentUri"))
            if isinstance(content, str):
                paths.append((template.base_dir / content).resolve())
    return paths
