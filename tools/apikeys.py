"""Operator command: issue, list and revoke API keys for an account.

The key is printed once, at issue; only its SHA-256 hash is stored. Point it at the stack's table
with --stack (reads the ApiKeysTableName output) or --table; AWS credentials and region come from
the usual AWS environment (AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL for the local stack).

  python tools/apikeys.py --stack apviso-integrations-dev issue --account acct_123
  python tools/apikeys.py --stack apviso-integrations-dev list --account acct_123
  python tools/apikeys.py --stack apviso-integrations-dev revoke --account acct_123 --key-id 3f9c0a1b2c4d
"""

from __future__ import annotations

import argparse
import re
import sys

import boto3

from integrations import apikeys

ACCOUNT_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def table_from_stack(stack_name: str) -> str:
    outputs = boto3.client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"][0].get("Outputs", [])
    for output in outputs:
        if output["OutputKey"] == "ApiKeysTableName":
            return str(output["OutputValue"])
    raise SystemExit(f"stack {stack_name} has no ApiKeysTableName output")


def account(value: str) -> str:
    if not ACCOUNT_ID.match(value):
        raise argparse.ArgumentTypeError("account ids are 1-64 letters, digits, '_' or '-'")
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--stack", help="CloudFormation stack name (uses its ApiKeysTableName output)")
    where.add_argument("--table", help="API keys table name")
    commands = parser.add_subparsers(dest="command", required=True)
    issue = commands.add_parser("issue", help="create a key for an account and print it once")
    issue.add_argument("--account", required=True, type=account)
    listing = commands.add_parser("list", help="list an account's key ids")
    listing.add_argument("--account", required=True, type=account)
    revoke = commands.add_parser("revoke", help="revoke one of an account's keys by its key id")
    revoke.add_argument("--account", required=True, type=account)
    revoke.add_argument("--key-id", required=True)
    args = parser.parse_args(argv)

    table = args.table or table_from_stack(args.stack)
    if args.command == "issue":
        key = apikeys.generate_key()
        key_id = apikeys.register_key(table, key, args.account)
        print(f"API key for {args.account} (key id {key_id}); it is shown only this once:")
        print(key)
    elif args.command == "list":
        for key_id in apikeys.list_key_ids(table, args.account):
            print(key_id)
    elif not apikeys.revoke_key(table, args.account, args.key_id):
        print(f"no key {args.key_id} for {args.account}", file=sys.stderr)
        return 1
    else:
        print(f"revoked {args.key_id}; API Gateway may accept it for up to a minute from its authorizer cache")
    return 0


if __name__ == "__main__":
    sys.exit(main())
