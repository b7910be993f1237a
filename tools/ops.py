"""Operator command: API keys and per-account limits, the dead-letter queues, disabling or enabling an
integration, the SES sender's status, and a stack's integration secrets.

Point it at a deployed stack with --stack (its outputs name the tables and queues), at the local stack with
--local (template.yaml's outputs as the local stack names things); otherwise each name comes from the environment
variable the functions use (INTEGRATIONS_TABLE, DELIVERY_LOGS_TABLE, SECRETS_PREFIX, EVENTS_QUEUE_URL,
EVENTS_DLQ_URL, DELIVERIES_QUEUE_URL, DELIVERIES_DLQ_URL, RECOVERY_QUEUE_URL, API_KEYS_TABLE) or, for the
EventBridge rule's and the recovery queue's dead-letter queues, BUS_DLQ_URL and RECOVERY_DLQ_URL; --table still
names the API keys table. AWS credentials and region come from the usual AWS environment (AWS_PROFILE,
AWS_REGION, AWS_ENDPOINT_URL for the local stack).

  integrations-ops --stack apviso-integrations-dev keys issue --account acct_123
  integrations-ops --stack apviso-integrations-dev keys list --account acct_123
  integrations-ops --stack apviso-integrations-dev keys revoke --account acct_123 --key-id 3f9c0a1b2c4d
  integrations-ops --stack apviso-integrations-dev keys plan --account acct_123 [--usage-plan ID|default]
  integrations-ops --stack apviso-integrations-dev dlq inspect [--queue events|deliveries|bus|recovery] [--limit 100]
  integrations-ops --stack apviso-integrations-dev dlq redrive [--queue events|deliveries|bus|recovery] [--limit N]
  integrations-ops --stack apviso-integrations-dev integration disable --account acct_123 <id> --reason "…"
  integrations-ops --stack apviso-integrations-dev integration enable --account acct_123 <id>
  integrations-ops --stack apviso-integrations-dev ses status [--sender alerts@example.com]
  integrations-ops secrets list --stack apviso-integrations-dev
  integrations-ops secrets delete --stack apviso-integrations-dev [--yes] [--without-recovery]
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
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from integrations.api.service import MAX_REASON, IntegrationService
from integrations.delivery.deadletters import DeadLetterQueue, DeadLetters
from integrations.models.integrations import UpdateIntegrationRequest
from integrations.platform.errors import Conflict, NotFound
from integrations.storage import apikeys
from integrations.storage.store import IntegrationRecord, IntegrationStore
from integrations.storage.vault import CredentialVault

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
    "bus_dlq": ("ScannerEventsDeadLetterQueueUrl", "BUS_DLQ_URL"),
    "recovery_queue": ("RecoveryQueueUrl", "RECOVERY_QUEUE_URL"),
    "recovery_dlq": ("RecoveryDeadLetterQueueUrl", "RECOVERY_DLQ_URL"),
    "usage_plan": ("AccountUsagePlanId", "ACCOUNT_USAGE_PLAN_ID"),
}
# Secrets Manager's minimum recovery window: a secret deleted by mistake can be restored for a week.
RECOVERY_DAYS = 7


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

    def __init__(
        self,
        stack_name: str | None,
        api_keys_table: str | None = None,
        *,
        local: bool = False,
        usage_plan: str | None = None,
    ) -> None:
        self.stack_name = LOCAL_STACK if local else stack_name
        self.api_keys_table = api_keys_table
        self.local = local
        self.usage_plan_id = usage_plan

    @cache  # noqa: B019 - one Stack per command run
    def _outputs(self) -> dict[str, str]:
        if self.local:
            return local_outputs()
        assert self.stack_name is not None
        stacks = boto3.client("cloudformation").describe_stacks(StackName=self.stack_name)["Stacks"]
        return {output["OutputKey"]: str(output["OutputValue"]) for output in stacks[0].get("Outputs", [])}

    @cache  # noqa: B019 - one Stack per command run
    def _parameters(self) -> dict[str, str]:
        if self.local or not self.stack_name:
            return {}
        stacks = boto3.client("cloudformation").describe_stacks(StackName=self.stack_name)["Stacks"]
        return {item["ParameterKey"]: str(item.get("ParameterValue", "")) for item in stacks[0].get("Parameters", [])}

    def email_sender(self) -> str:
        """The sender the stack's email integrations use (its EmailSender parameter)."""
        value = os.environ.get("EMAIL_SENDER") if self.local or not self.stack_name else None
        if not value and self.local:
            from devstack.template import load_template

            value = str(load_template(ROOT / "template.yaml").body["Parameters"]["EmailSender"]["Default"])
        value = value or self._parameters().get("EmailSender")
        if not value:
            raise SystemExit("give --sender, --stack, or set EMAIL_SENDER")
        return value

    def usage_plan(self) -> str | None:
        """The id of the stack's per-account usage plan (None when the stack has none)."""
        if self.usage_plan_id:
            return self.usage_plan_id
        if self.local:
            # Its id is made by API Gateway (moto), so it is found by the name the template gives it.
            name = f"{self.stack_name}-accounts"
            plans = boto3.client("apigateway").get_usage_plans().get("items", [])
            return next((plan["id"] for plan in plans if plan.get("name") == name), None)
        if self.stack_name:
            return self._outputs().get("AccountUsagePlanId") or None
        return os.environ.get("ACCOUNT_USAGE_PLAN_ID") or None

    def secrets_prefix(self) -> str:
        """Where the stack's integration secrets are named: known from the stack's name alone, so that it also
        works once the stack is deleted (template.yaml: SECRETS_PREFIX is ${AWS::StackName}/integrations)."""
        if self.stack_name:
            return f"{self.stack_name}/integrations/"
        return self.name("secrets_prefix").rstrip("/") + "/"

    def exists(self) -> bool:
        """Whether the CloudFormation stack exists (the local stack always does while it runs)."""
        if self.local:
            return True
        assert self.stack_name is not None
        try:
            stacks = boto3.client("cloudformation").describe_stacks(StackName=self.stack_name)["Stacks"]
        except ClientError:
            return False
        return any(stack["StackStatus"] != "DELETE_COMPLETE" for stack in stacks)

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
        # The bus's dead letters are scanner events the EventBridge rule could not hand to the events queue.
        sources = {
            "events": "events_queue",
            "deliveries": "deliveries_queue",
            "bus": "events_queue",
            "recovery": "recovery_queue",
        }
        return [
            DeadLetterQueue(name, self.name(f"{name}_dlq"), self.name(source))
            for name, source in sources.items()
            if which in (None, name)
        ]

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
    where.add_argument("--table", help="API keys table name (keys issue, list, revoke)")
    where.add_argument(
        "--local", action="store_true", help="the local stack of `make run` (with AWS_ENDPOINT_URL pointing at it)"
    )
    parser.add_argument(
        "--usage-plan", help="the per-account usage plan's id (default: the stack's AccountUsagePlanId output)"
    )
    commands = parser.add_subparsers(dest="command", required=True)

    keys = commands.add_parser("keys", help="API keys and each account's usage plan")
    key_actions = keys.add_subparsers(dest="action", required=True)
    issue = key_actions.add_parser("issue", help="create a key for an account and print it once")
    listing = key_actions.add_parser("list", help="list an account's key ids")
    revoke = key_actions.add_parser("revoke", help="revoke one of an account's keys by its key id")
    for sub in (issue, listing, revoke):
        sub.add_argument("--account", required=True, type=account)
    revoke.add_argument("--key-id", required=True)
    plan = key_actions.add_parser("plan", help="show an account's usage plan, or move it to another plan")
    plan.add_argument("--account", required=True, type=account)
    plan.add_argument("--to", metavar="USAGE_PLAN_ID", help="move it there ('default': the stack's own plan)")

    dlq = commands.add_parser("dlq", help="the dead-letter queues").add_subparsers(dest="action", required=True)
    inspect = dlq.add_parser("inspect", help="counts, reasons and a sample of each dead-letter queue")
    redrive = dlq.add_parser("redrive", help="move dead letters back to their source queue (after a fix)")
    for sub in (inspect, redrive):
        sub.add_argument(
            "--queue",
            choices=["events", "deliveries", "bus", "recovery"],
            help="one queue (default: all; bus: scanner events EventBridge could not hand to the events queue; "
            "recovery: pages of recoveries that kept failing)",
        )
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

    ses = commands.add_parser("ses", help="the email sender's SES status").add_subparsers(dest="action", required=True)
    status = ses.add_parser("status", help="sender identity verification, production access, sending quota")
    status.add_argument("--sender", help="the sender address (default: the stack's EmailSender)")

    secrets = commands.add_parser("secrets", help="the stack's integration secrets (never their values)")
    secret_actions = secrets.add_subparsers(dest="action", required=True)
    list_secrets = secret_actions.add_parser("list", help="list the stack's integration secrets")
    delete_secrets = secret_actions.add_parser("delete", help="delete them all (after deleting the stack)")
    for sub in (list_secrets, delete_secrets):
        sub.add_argument("--stack", dest="secrets_stack", metavar="STACK", help="the stack (may already be deleted)")
    delete_secrets.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    delete_secrets.add_argument(
        "--without-recovery",
        action="store_true",
        help=f"delete at once, unrecoverably (default: scheduled, restorable for {RECOVERY_DAYS} days)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    arguments = parser()
    args = arguments.parse_args(argv)
    secrets_stack = getattr(args, "secrets_stack", None)
    if secrets_stack:
        if args.stack not in (None, secrets_stack) or args.local or args.table:
            arguments.error("give the stack once")
        args.stack = secrets_stack
    stack = Stack(args.stack, args.table, local=args.local, usage_plan=args.usage_plan)
    commands: dict[str, Callable[[argparse.Namespace, Stack], int]] = {
        "dlq": dead_letters,
        "integration": switch_integration,
        "ses": ses_status,
        "secrets": stack_secrets,
    }
    if args.command == "keys":
        key_commands = {"issue": issue_key, "list": list_keys, "revoke": revoke_key, "plan": account_plan}
        return key_commands[args.action](args, stack)
    return commands[args.command](args, stack)


def issue_key(args: argparse.Namespace, stack: Stack) -> int:
    table = stack.name("api_keys_table")
    usage_plan = stack.usage_plan()
    if usage_plan is None:
        # The API requires each account's usage key: a key without one would be refused (403) by API Gateway.
        raise SystemExit("no usage plan: give --stack, or --usage-plan with --table (the AccountUsagePlanId output)")
    label = stack.stack_name or table
    key, key_id = apikeys.issue_key(table, args.account, usage_plan, label)
    print(f"API key for {args.account} (key id {key_id}); it is shown only this once:")
    print(key)
    return 0


def account_plan(args: argparse.Namespace, stack: Stack) -> int:
    usage_key = apikeys.account_usage_key(stack.name("api_keys_table"), args.account)
    if usage_key is None:
        print(f"{args.account} has no key (and so no usage key); issue one first", file=sys.stderr)
        return 1
    apigateway = boto3.client("apigateway")
    if args.to:
        target = stack.usage_plan() if args.to == "default" else args.to
        if target is None:
            raise SystemExit("the stack has no usage plan of its own; name the plan's id")
        try:
            left = apikeys.move_usage_key(usage_key.id, target)
        except ClientError as error:
            print(f"cannot move {args.account} to {target}: {error.response['Error']['Message']}", file=sys.stderr)
            return 1
        print(f"{args.account} moved to usage plan {target}" + (f" (from {', '.join(left)})" if left else ""))
    for plan_id in apikeys.usage_plans_of(usage_key.id):
        plan = apigateway.get_usage_plan(usagePlanId=plan_id)
        throttle, quota = plan.get("throttle") or {}, plan.get("quota") or {}
        limits = f"{throttle.get('rateLimit', '-')} requests/s, burst {throttle.get('burstLimit', '-')}"
        limits += f", quota {quota['limit']} per {quota['period'].lower()}" if quota else ", no quota"
        print(f"{args.account}: usage plan {plan_id} ({plan.get('name', '')}): {limits}")
    return 0


def list_keys(args: argparse.Namespace, stack: Stack) -> int:
    for key_id in apikeys.list_key_ids(stack.name("api_keys_table"), args.account):
        print(key_id)
    return 0


def revoke_key(args: argparse.Namespace, stack: Stack) -> int:
    revoked, released = apikeys.revoke_and_release(stack.name("api_keys_table"), args.account, args.key_id)
    if not revoked:
        print(f"no key {args.key_id} for {args.account}", file=sys.stderr)
        return 1
    print(f"revoked {args.key_id}; API Gateway may accept it for up to a minute from its authorizer cache")
    if released:
        print(f"that was {args.account}'s last key: its usage key is deleted from API Gateway")
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


def sender_verification(ses: Any, sender: str) -> tuple[bool, str]:
    """Whether SES lets ``sender`` send: its address identity or its domain's is verified."""
    domain = sender.rpartition("@")[2]
    identities = [sender, domain] if domain and domain != sender else [sender]
    found = ses.get_identity_verification_attributes(Identities=identities)["VerificationAttributes"]
    states = {identity: found.get(identity, {}).get("VerificationStatus", "not an identity") for identity in identities}
    verified = any(state == "Success" for state in states.values())
    return verified, ", ".join(f"{identity}: {state}" for identity, state in states.items())


def production_access(sesv2: Any) -> bool | None:
    """Whether the account is out of the SES sandbox (None when SES does not say)."""
    try:
        account_details = sesv2.get_account()
    except (ClientError, BotoCoreError, NotImplementedError) as error:  # moto has no GetAccount
        print(f"  (SESv2 GetAccount failed: {error})", file=sys.stderr)
        return None
    return bool(account_details.get("ProductionAccessEnabled"))


def ses_status(args: argparse.Namespace, stack: Stack) -> int:
    """Exit status 0 when email can go out to anyone: sender verified and production access granted."""
    sender = args.sender or stack.email_sender()
    verified, detail = sender_verification(boto3.client("ses"), sender)
    print(f"Sender {sender}: {'verified' if verified else 'NOT verified'} ({detail})")
    production = production_access(boto3.client("sesv2"))
    print(
        "Production access: "
        + {
            True: "yes (out of the sandbox)",
            False: "NO: in the SES sandbox, mail goes only to verified addresses (request production access)",
            None: "unknown",
        }[production]
    )
    quota = boto3.client("ses").get_send_quota()
    print(
        f"Sending quota: {quota['Max24HourSend']:g} per 24 h ({quota['SentLast24Hours']:g} sent in the last 24 h),"
        f" at most {quota['MaxSendRate']:g} per second"
    )
    return 0 if verified and production else 1


def list_stack_secrets(prefix: str) -> list[dict[str, Any]]:
    """Every secret named under the prefix, scheduled deletions included (their metadata only, never values)."""
    pages = boto3.client("secretsmanager").get_paginator("list_secrets")
    found: list[dict[str, Any]] = []
    for page in pages.paginate(Filters=[{"Key": "name", "Values": [prefix]}], IncludePlannedDeletion=True):
        # The name filter is a case-insensitive prefix match: keep exactly this stack's.
        found += [secret for secret in page["SecretList"] if str(secret["Name"]).startswith(prefix)]
    return sorted(found, key=lambda secret: str(secret["Name"]))


def stack_secrets(args: argparse.Namespace, stack: Stack) -> int:
    prefix = stack.secrets_prefix()
    secrets = list_stack_secrets(prefix)
    scheduled = [secret for secret in secrets if secret.get("DeletedDate")]
    live = [secret for secret in secrets if not secret.get("DeletedDate")]
    if args.action == "list":
        for secret in secrets:
            deleting = secret.get("DeletedDate")
            created = secret.get("CreatedDate")
            state = f"scheduled for deletion since {deleting:%Y-%m-%d}" if deleting else "active"
            print(f"{secret['Name']}  {state}" + (f"  created {created:%Y-%m-%d}" if created else ""))
        also = f", {len(scheduled)} already scheduled for deletion" if scheduled else ""
        print(f"{len(live)} secret(s) under {prefix}{also}")
        return 0
    if not live:
        print(f"no secret to delete under {prefix}" + (f" ({len(scheduled)} already scheduled)" if scheduled else ""))
        return 0
    how = "at once, unrecoverably" if args.without_recovery else f"restorable for {RECOVERY_DAYS} days"
    if stack.stack_name and stack.exists():
        print(f"WARNING: stack {stack.stack_name} still exists: its integrations stop delivering.")
    if not args.yes:
        answer = input(f"Delete {len(live)} secret(s) under {prefix} ({how})? Type 'delete' to confirm: ")
        if answer.strip() != "delete":
            print("nothing deleted")
            return 1
    client = boto3.client("secretsmanager")
    for secret in live:
        if args.without_recovery:
            client.delete_secret(SecretId=secret["ARN"], ForceDeleteWithoutRecovery=True)
        else:
            client.delete_secret(SecretId=secret["ARN"], RecoveryWindowInDays=RECOVERY_DAYS)
    print(f"deleted {len(live)} secret(s) under {prefix} ({how})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
