"""Operator command: API keys, the dead-letter queues, and disabling or enabling an integration.

Point it at a deployed stack with --stack (its outputs name the tables and queues), at the local stack with
--local (template.yaml's outputs as the local stack names things); otherwise each
name comes from the environment variable the functions use (INTEGRATIONS_TABLE, DELIVERY_LOGS_TABLE,
SECRETS_PREFIX, EVENTS_QUEUE_URL, EVENTS_DLQ_URL, DELIVERIES_QUEUE_URL, DELIVERIES_DLQ_URL, API_KEYS_TABLE;
--table still names the API keys table). AWS credentials and region come from the usual AWS environment
(AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL for the local stack).

  python tools/ops.py --stack apviso-integrations-dev issue --account acct_123
  python tools/ops.py --stack apviso-integrations-dev list --account acct_123
  python tools/ops.py --stack apviso-integrations-dev revoke --account acct_123 --key-id 3f9c0a1b2c4d
  python tools/ops.py --stack apviso-integrations-dev dlq inspect [--queue events|deliveries] [--limit 100]
  python tools/ops.py --stack apviso-integrations-dev dlq redrive [--queue events|deliveries] [--limit N]
  python tools/ops.py --stack apviso-integrations-dev integration disable --account acct_123 <id> --reason "…"
  python tools/ops.py --stack apviso-integrations-dev integration enable --account acct_123 <id>
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Callable
from functools import cache
from pathlib import Path

import boto3

from integrations import apikeys
from integrations.deadletters import DeadLetterQueue, DeadLetters
from integrations.errors import Conflict, NotFound
from integrations.models import UpdateIntegrationRequest
from integrations.service import MAX_REASON, IntegrationService
from integrations.store import IntegrationRecord, IntegrationStore
from integrations.vault import CredentialVault

ACCOUNT_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
ROOT = Path(__file__).resolve().parents[1]
LOCAL_STACK = "integrations-local"  # the local stack's name (devstack)

# What the command needs: the stack output naming it, or else the functions' environment variable.
RESOURCES = {
    "api_keys_table": ("ApiKeysTableName", "API_KEYS_TABLE"),
    "integrations_table": ("IntegrationsTableName", "INTEGRATIONS_TABLE"),
    "delivery_logs_table": ("DeliveryLogsTableName", "DELIVERY_LOGS_TABLE"),
    "secrets_prefix": ("SecretsPrefix", "SECRETS_PREFIX"),
    "events_queue": ("EventsQueueUrl", "EVENTS_QUEUE_URL"),
    "events_dlq": ("EventsDeadLetterQueueUrl", "EVENTS_DLQ_URL"),
    "deliveries_queue": ("DeliveriesQueueUrl", "DELIVERIES_QUEUE_URL"),
    "deliveries_dlq": ("DeliveriesDeadLetterQueueUrl", "DELIVERIES_DLQ_URL"),
}


def local_outputs(stack_name: str = LOCAL_STACK) -> dict[str, str]:
    """The outputs the local stack (``make run``) would have: template.yaml's, resolved as it names things."""
    from devstack.provision import plan
    from devstack.template import Resolver, TemplateError, load_template

    template = load_template(ROOT / "template.yaml")
    resolver = Resolver(template, stack_name=stack_name, resources=plan(template, stack_name))
    outputs = {}
    for key, output in (template.body.get("Outputs") or {}).items():
        try:
            outputs[key] = str(resolver.resolve(output["Value"]))
        except (TemplateError, KeyError):
            continue  # e.g. the API's URL, which the local stack serves itself
    return outputs


class Stack:
    """Resolves the stack's resource names from its outputs, or from the environment."""

    def __init__(self, stack_name: str | None, api_keys_table: str | None = None, *, local: bool = False) -> None:
        self.stack_name = LOCAL_STACK if local else stack_name
        self.api_keys_table = api_keys_table
        self.local = local

    @cache  # noqa: B019 - one Stack per command run
    def _outputs(self) -> dict[str, str]:
        if self.local:
            return local_outputs()
        assert self.stack_name is not None
        stacks = boto3.client("cloudformation").describe_stacks(StackName=self.stack_name)["Stacks"]
        return {output["OutputKey"]: str(output["OutputValue"]) for output in stacks[0].get("Outputs", [])}

    def name(self, resource: str) -> str:
        if resource == "api_keys_table" and self.api_keys_table:
            return self.api_keys_table
        output, variable = RESOURCES[resource]
        if self.stack_name:
            value = self._outputs().get(output)
            if not value:
                raise SystemExit(f"stack {self.stack_name} has no {output} output")
            return value
        value = os.environ.get(variable)
        if not value:
            raise SystemExit(f"give --stack, or set {variable}")
        return value

    def dead_letter_queues(self, which: str | None) -> list[DeadLetterQueue]:
        queues = [
            DeadLetterQueue(name, self.name(f"{name}_dlq"), self.name(f"{name}_queue"))
            for name in ("events", "deliveries")
            if which in (None, name)
        ]
        return queues

    def service(self) -> IntegrationService:
        # Operators never create destinations here, so local destinations are never admitted.
        vault = CredentialVault(self.name("secrets_prefix"))
        return IntegrationService(
            IntegrationStore(self.name("integrations_table")), vault, allow_local_destinations=False
        )


def account(value: str) -> str:
    if not ACCOUNT_ID.match(value):
        raise argparse.ArgumentTypeError("account ids are 1-64 letters, digits, '_' or '-'")
    return value


def positive(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError("must be a positive whole number")
    return int(value)


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--stack", help="CloudFormation stack name (its outputs name the tables and queues)")
    where.add_argument("--table", help="API keys table name (issue, list, revoke)")
    where.add_argument(
        "--local", action="store_true", help="the local stack of `make run` (with AWS_ENDPOINT_URL pointing at it)"
    )
    commands = parser.add_subparsers(dest="command", required=True)

    issue = commands.add_parser("issue", help="create a key for an account and print it once")
    issue.add_argument("--account", required=True, type=account)
    listing = commands.add_parser("list", help="list an account's key ids")
    listing.add_argument("--account", required=True, type=account)
    revoke = commands.add_parser("revoke", help="revoke one of an account's keys by its key id")
    revoke.add_argument("--account", required=True, type=account)
    revoke.add_argument("--key-id", required=True)

    dlq = commands.add_parser("dlq", help="the dead-letter queues").add_subparsers(dest="action", required=True)
    inspect = dlq.add_parser("inspect", help="counts, reasons and a sample of each dead-letter queue")
    redrive = dlq.add_parser("redrive", help="move dead letters back to their source queue (after a fix)")
    for sub in (inspect, redrive):
        sub.add_argument("--queue", choices=["events", "deliveries"], help="one queue (default: both)")
    inspect.add_argument("--limit", type=positive, default=100, help="messages examined per queue (default 100)")
    redrive.add_argument("--limit", type=positive, help="move at most this many messages per queue")

    integration = commands.add_parser("integration", help="disable or enable an integration")
    actions = integration.add_subparsers(dest="action", required=True)
    disable = actions.add_parser("disable", help="disable it with a reason its owner sees in the API")
    enable = actions.add_parser("enable", help="enable it again (clears the reason)")
    for sub in (disable, enable):
        sub.add_argument("--account", required=True, type=account)
        sub.add_argument("integration_id", metavar="integrationId")
    disable.add_argument("--reason", help=f"shown as 'Disabled by an operator: <reason>' (≤ {MAX_REASON} chars)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    stack = Stack(args.stack, args.table, local=args.local)
    commands: dict[str, Callable[[argparse.Namespace, Stack], int]] = {
        "issue": issue_key,
        "list": list_keys,
        "revoke": revoke_key,
        "dlq": dead_letters,
        "integration": switch_integration,
    }
    return commands[args.command](args, stack)


def issue_key(args: argparse.Namespace, stack: Stack) -> int:
    key = apikeys.generate_key()
    key_id = apikeys.register_key(stack.name("api_keys_table"), key, args.account)
    print(f"API key for {args.account} (key id {key_id}); it is shown only this once:")
    print(key)
    return 0


def list_keys(args: argparse.Namespace, stack: Stack) -> int:
    for key_id in apikeys.list_key_ids(stack.name("api_keys_table"), args.account):
        print(key_id)
    return 0


def revoke_key(args: argparse.Namespace, stack: Stack) -> int:
    if not apikeys.revoke_key(stack.name("api_keys_table"), args.account, args.key_id):
        print(f"no key {args.key_id} for {args.account}", file=sys.stderr)
        return 1
    print(f"revoked {args.key_id}; API Gateway may accept it for up to a minute from its authorizer cache")
    return 0


def dead_letters(args: argparse.Namespace, stack: Stack) -> int:
    queues = stack.dead_letter_queues(args.queue)
    logs_table = stack.name("delivery_logs_table") if any(q.name == "deliveries" for q in queues) else None
    letters = DeadLetters(queues, logs_table)
    if args.action == "inspect":
        print("Dead letters hold scanner events and delivery jobs, never credentials (those stay in Secrets Manager).")
        for queue in queues:
            found = letters.inspect(queue, args.limit)
            print(f"\n{found.queue} dead-letter queue: about {found.approximate_count} message(s)", end="")
            print(f" ({found.examined} examined)" if found.examined else "")
            for reason, count in found.reasons.most_common():
                print(f"  {count:>5}  {reason}")
            if found.sample is not None:
                print("  sample body:")
                print("\n".join("    " + line for line in found.sample.splitlines()))
        return 0
    status = 0
    for queue in queues:
        result = letters.redrive(queue, args.limit)
        print(f"{result.queue}: moved {result.moved} message(s) back to the source queue", end="")
        if result.error:
            print(f"; {result.failed} left in the dead-letter queue: {result.error}")
            status = 1
        else:
            print()
    return status


def switch_integration(args: argparse.Namespace, stack: Stack) -> int:
    service = stack.service()
    try:
        record: IntegrationRecord
        if args.action == "disable":
            record = service.disable_by_operator(args.account, args.integration_id, args.reason)
        else:
            record = service.update(args.account, args.integration_id, UpdateIntegrationRequest(enabled=True))
    except NotFound:
        print(f"no integration {args.integration_id} for {args.account}", file=sys.stderr)
        return 1
    except Conflict as conflict:
        print(conflict.message, file=sys.stderr)
        return 1
    print(json.dumps(record.to_response().model_dump(mode="json"), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
