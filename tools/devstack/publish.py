"""`python -m devstack.publish event.json`: put a canonical event on the local EventBridge bus, as the scanner does."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

import boto3
import botocore.exceptions

from devstack.provision import DEFAULT_STACK_NAME, plan
from devstack.template import REGION, TemplateError, load_template

REPO_ROOT = Path(__file__).resolve().parents[2]
SOURCE = "apviso.scanner"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(prog="python -m devstack.publish", description=__doc__)
    parser.add_argument("event", type=Path, help="a canonical event (JSON file)")
    parser.add_argument("--template", type=Path, default=REPO_ROOT / "template.yaml")
    parser.add_argument("--stack-name", default=os.environ.get("DEVSTACK_STACK_NAME", DEFAULT_STACK_NAME))
    parser.add_argument("--bus", help="logical id of the bus when the template declares several")
    parser.add_argument("--endpoint-url", default=f"http://127.0.0.1:{os.environ.get('AWS_PORT', '4566')}")
    return parser.parse_args(argv)


def read_event(path: Path) -> dict[str, Any]:
    """Load the event and check the fields PutEvents needs."""
    event = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(event, dict) or not isinstance(event.get("type"), str) or not event["type"]:
        raise ValueError(f'{path} is not a canonical event: it needs a string "type"')
    return event


def bus_name(template_path: Path, stack_name: str, logical_id: str | None) -> str | None:
    """The physical name of the template's event bus; None when the template declares none."""
    template = load_template(template_path)
    buses = list(template.of_type("AWS::Events::EventBus"))
    if not buses:
        return None
    if logical_id is None and len(buses) > 1:
        raise TemplateError(f"the template declares several buses ({', '.join(buses)}); choose one with --bus")
    chosen = logical_id or buses[0]
    if chosen not in buses:
        raise TemplateError(f"{chosen} is not an AWS::Events::EventBus of the template")
    return plan(template, stack_name)[chosen].name


def main(argv: list[str] | None = None) -> int:
    """Publish; 0 on success, 1 when the put fails, 2 when there is nothing to publish to."""
    args = parse_args(argv)
    try:
        event = read_event(args.event)
        bus = bus_name(args.template, args.stack_name, args.bus)
    except (OSError, ValueError, TemplateError) as error:
        print(f"publish: {error}", file=sys.stderr)
        return 2
    if bus is None:
        print(
            f"publish: {args.template} declares no AWS::Events::EventBus yet, so there is no local bus to publish to",
            file=sys.stderr,
        )
        return 2
    client = boto3.client(
        "events",
        endpoint_url=args.endpoint_url,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    entry = {"Source": SOURCE, "DetailType": event["type"], "Detail": json.dumps(event), "EventBusName": bus}
    try:
        response = client.put_events(Entries=[entry])
    except botocore.exceptions.EndpointConnectionError:
        print(
            f"publish: nothing answers at {args.endpoint_url}; is the local stack running (make run)?", file=sys.stderr
        )
        return 1
    except botocore.exceptions.ClientError as error:
        print(f"publish: PutEvents failed: {error}", file=sys.stderr)
        return 1
    result = response["Entries"][0]
    if response.get("FailedEntryCount"):
        print(
            f"publish: PutEvents refused the event: {result.get('ErrorCode')} {result.get('ErrorMessage')}",
            file=sys.stderr,
        )
        return 1
    print(f"published {event['type']} {event.get('id', '')} to {bus} (EventId {result['EventId']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
