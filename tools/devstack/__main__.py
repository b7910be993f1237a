"""`python -m devstack`: moto, template.yaml provisioned, the API and the SQS pollers, until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import sys
import threading
from collections.abc import Mapping, MutableMapping
from pathlib import Path
from types import FrameType

import boto3
from moto.server import ThreadedMotoServer

from devstack import atomic
from devstack.creators import client_factory
from devstack.functions import layer_paths, load_functions, merged_environment
from devstack.gateway import Gateway, load_api
from devstack.pollers import start_pollers
from devstack.provision import DEFAULT_STACK_NAME, provision
from devstack.template import REGION, TemplateError, load_template

log = logging.getLogger("devstack")

REPO_ROOT = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"
DEFAULT_API_KEYS = "apvk_local_dev=acct_local"
DEFAULT_EMAIL_SENDER = "alerts@apviso.local"
# Settings a developer may point elsewhere when running locally (the environment wins over the template).
PASS_THROUGH = ("PAGERDUTY_EVENTS_URL", "EMAIL_SENDER", "EMAIL_TRANSPORT", "MAX_INTEGRATIONS_PER_ACCOUNT")


class StartupError(Exception):
    """The local stack cannot start; the message says why."""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options (the defaults serve `make run`)."""
    parser = argparse.ArgumentParser(prog="python -m devstack", description=__doc__)
    parser.add_argument("--template", type=Path, default=REPO_ROOT / "template.yaml")
    parser.add_argument("--stack-name", default=os.environ.get("DEVSTACK_STACK_NAME", DEFAULT_STACK_NAME))
    parser.add_argument(
        "--parameter",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override a template parameter (repeatable)",
    )
    return parser.parse_args(argv)


def parse_api_keys(text: str) -> dict[str, str]:
    """LOCAL_API_KEYS ("key=account,key2=account2") as {key: account}."""
    keys = {}
    for entry in filter(None, (item.strip() for item in text.split(","))):
        key, sep, account = entry.partition("=")
        if not sep or not key.strip() or not account.strip():
            raise StartupError(f"LOCAL_API_KEYS entry {entry!r} is not key=account")
        keys[key.strip()] = account.strip()
    return keys


def _port(name: str, default: int) -> int:
    value = os.environ.get(name, str(default))
    if not value.isdigit():
        raise StartupError(f"{name}={value!r} is not a port number")
    return int(value)


def _check_free(port: int, name: str) -> None:
    # moto's server thread would hang on a busy port instead of failing, so look first. With SO_REUSEADDR, as both
    # servers bind: a port whose only sockets are a stopped stack's connections in TIME-WAIT is free to them (and
    # to this probe), while a port another program listens on still is not.
    if port == 0:
        return
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((HOST, port))
        except OSError as error:
            raise StartupError(f"{HOST}:{port} ({name}) is not free: {error.strerror}") from error


def aws_environment(environ: MutableMapping[str, str], endpoint: str) -> None:
    """Point every boto3 client at moto, with dummy credentials, so nothing can reach real AWS."""
    for key in list(environ):
        if key.startswith("AWS_ENDPOINT_URL_") or key in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
            del environ[key]
    environ.update(
        {
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
        }
    )


def local_settings(template_env: Mapping[str, str], environ: Mapping[str, str]) -> dict[str, str]:
    """The functions' variables for a local run: the template's, with the local-stack overrides."""
    settings = dict(template_env)
    settings["ALLOW_LOCAL_DESTINATIONS"] = environ.get("ALLOW_LOCAL_DESTINATIONS", "true")
    # The local console shares the API's origin, so no CORS unless a developer serves it from elsewhere.
    settings["CONSOLE_ORIGIN"] = environ.get("CONSOLE_ORIGIN", "")
    settings["EMAIL_SENDER"] = environ.get("EMAIL_SENDER", settings.get("EMAIL_SENDER", DEFAULT_EMAIL_SENDER))
    for name in PASS_THROUGH:
        if name in environ:
            settings[name] = environ[name]
    return settings


def register_api_keys(table_name: str, keys: Mapping[str, str], usage_plan_id: str | None, stack_name: str) -> None:
    """Store the local API keys through the service's own code, hashed as in production, each account's usage
    key in the stack's usage plan (as `integrations-ops keys issue` does)."""
    from integrations.storage.apikeys import issue_key

    for api_key, account_id in keys.items():
        issue_key(table_name, account_id, usage_plan_id, stack_name, api_key=api_key)


def parameter_overrides(environ: Mapping[str, str], argv_parameters: list[str]) -> dict[str, str]:
    """Template parameters from DEVSTACK_PARAMETERS ("Name=value,Name2=value2"), then --parameter (which wins)."""
    entries = [item.strip() for item in environ.get("DEVSTACK_PARAMETERS", "").split(",") if item.strip()]
    entries += argv_parameters
    if any("=" not in item for item in entries):
        raise StartupError("DEVSTACK_PARAMETERS and --parameter take NAME=VALUE")
    return dict(item.split("=", 1) for item in entries)


class LocalStack:
    """Everything `make run` starts, in start order, and how to stop it."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.stop_event = threading.Event()
        self.moto: ThreadedMotoServer | None = None
        self.gateway: Gateway | None = None
        self.pollers: list[threading.Thread] = []

    def start(self) -> str:
        """Start everything; returns the ready line."""
        api_port, aws_port = _port("API_PORT", 3000), _port("AWS_PORT", 4566)
        _check_free(aws_port, "AWS_PORT")
        _check_free(api_port, "API_PORT")
        keys = parse_api_keys(os.environ.get("LOCAL_API_KEYS", DEFAULT_API_KEYS))
        parameters = parameter_overrides(os.environ, self.args.parameter)

        atomic.install()  # DynamoDB's per-item atomicity, which parallel dispatches rely on
        self.moto = ThreadedMotoServer(ip_address=HOST, port=aws_port, verbose=False)
        self.moto.start()
        aws_url = "http://{}:{}".format(*self.moto.get_host_and_port())
        aws_environment(os.environ, aws_url)

        template = load_template(self.args.template)
        session = boto3.session.Session(region_name=REGION)
        resources = provision(template, session, self.args.stack_name, parameters)
        for path in reversed(layer_paths(template, resources)):
            if str(path) not in sys.path:
                sys.path.insert(0, str(path))
        functions = load_functions(template, resources)
        # Handlers read their settings at import (cold start), so the variables go in before any import.
        os.environ.update(local_settings(merged_environment(functions), os.environ))

        session.client("ses").verify_email_identity(EmailAddress=os.environ["EMAIL_SENDER"])
        if keys:
            if "API_KEYS_TABLE" not in os.environ:
                raise StartupError("no function declares API_KEYS_TABLE; cannot register LOCAL_API_KEYS")
            plans = resources.of_type("AWS::ApiGateway::UsagePlan")
            usage_plan = plans[0].ref if plans else None
            register_api_keys(os.environ["API_KEYS_TABLE"], keys, usage_plan, self.args.stack_name)

        self.pollers = list(start_pollers(functions, resources, client_factory(session), self.stop_event))
        api = load_api(template, resources, functions)
        self.gateway = Gateway(api, functions, HOST, api_port, console_dir=REPO_ROOT / "console")
        self.gateway.start()
        shown = ", ".join(f"{key}→{account}" for key, account in keys.items()) or "none"
        return (
            f"Integrations local stack ready: API {self.gateway.url} · AWS {aws_url} · keys: {shown}"
            f" · console {self.gateway.url}/console/"
        )

    def stop(self) -> None:
        """Stop pollers, then the API, then moto."""
        self.stop_event.set()
        for poller in self.pollers:
            poller.join(timeout=5)
        if self.gateway is not None:
            self.gateway.stop()
        if self.moto is not None:
            self.moto.stop()


def _configure_logging() -> None:
    debug = os.environ.get("DEVSTACK_DEBUG", "").lower() not in ("", "0", "false", "no")
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # botocore and urllib3 drown everything else at DEBUG; moto's werkzeug logs every AWS call.
    for noisy in ("botocore", "boto3", "urllib3", *(() if debug else ("werkzeug",))):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def main(argv: list[str] | None = None) -> int:
    """Run the local stack in the foreground; 0 after SIGINT/SIGTERM, 1 when it cannot start."""
    args = parse_args(argv)
    _configure_logging()
    stack = LocalStack(args)

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stack.stop_event.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    try:
        ready = stack.start()
    except (StartupError, TemplateError, OSError) as error:
        log.error("cannot start: %s", error)
        stack.stop()
        return 1
    except Exception:
        log.exception("cannot start")
        stack.stop()
        return 1
    # Encoded by hand: the line carries "·" and "→" whatever the locale's encoding.
    sys.stdout.flush()
    sys.stdout.buffer.write((ready + "\n").encode())
    sys.stdout.buffer.flush()
    # Wait in short slices so the signal handler runs promptly on every platform.
    while not stack.stop_event.wait(0.5):
        pass
    log.info("stopping")
    stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
