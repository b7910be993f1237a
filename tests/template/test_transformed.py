"""What issue 11 promises of the deployed stack, read from the transformed templates (dev, prod, console-off)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from integrations.api import gateway_policy
from tests.template.conftest import Deployed

CONFIG_NAMES = ["dev", "prod", "console-off"]
RETENTION = {"dev": 14, "prod": 365}
CONSOLE_RESOURCES = {
    "ConsoleBucket",
    "ConsoleBucketPolicy",
    "ConsoleOriginAccessControl",
    "ConsoleResponseHeaders",
    "ConsoleDistribution",
}


@pytest.fixture(params=CONFIG_NAMES)
def stack(request: pytest.FixtureRequest, deployed: dict[str, Deployed]) -> Deployed:
    return deployed[request.param]


def _environment(stack: Deployed) -> str:
    return str(stack.resolve({"Ref": "Environment"}))


def _references(value: Any) -> set[str]:
    """Logical ids a value names through Ref, Fn::GetAtt or Fn::Sub (after the Fn::If are decided)."""
    found: set[str] = set()
    if isinstance(value, list):
        for item in value:
            found |= _references(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            if key == "Ref" and isinstance(item, str):
                found.add(item)
            elif key == "Fn::GetAtt":
                found.add(item[0] if isinstance(item, list) else item.split(".", 1)[0])
            elif key == "Fn::Sub":
                text = item if isinstance(item, str) else item[0]
                found |= {name.split(".", 1)[0] for name in re.findall(r"\$\{([^!}][^}]*)\}", text)}
                found |= _references(item[1] if isinstance(item, list) else None)
            else:
                found |= _references(item)
    return found


# ---------------------------------------------------------------- one stage


def test_only_the_configured_stage_exists(stack: Deployed) -> None:
    stages = stack.of_type("AWS::ApiGateway::Stage")
    assert [props["Properties"]["StageName"] for props in stages.values()] == [_environment(stack)]
    # SAM's implicit "Stage" stage comes from a deployment that names a stage itself.
    for deployment in stack.of_type("AWS::ApiGateway::Deployment").values():
        assert "StageName" not in deployment["Properties"]
    # and the stage that exists is the throttled, traced one
    [stage] = stages.values()
    assert stage["Properties"]["TracingEnabled"] is True
    assert all("ThrottlingRateLimit" in setting for setting in stage["Properties"]["MethodSettings"])


# ---------------------------------------------------------------- logs


def test_every_function_logs_to_a_group_of_its_own_with_the_environments_retention(stack: Deployed) -> None:
    resources = stack.resources
    functions = stack.of_type("AWS::Lambda::Function")
    assert len(functions) >= 12
    groups = []
    for logical_id, function in functions.items():
        reference = function["Properties"]["LoggingConfig"]["LogGroup"]
        group = resources[reference["Ref"]]
        assert group["Type"] == "AWS::Logs::LogGroup", logical_id
        assert group["Properties"]["RetentionInDays"] == RETENTION[_environment(stack)], logical_id
        assert stack.resolve(group["Properties"]["LogGroupName"]).startswith("/aws/lambda/apviso-integrations/")
        groups.append(reference["Ref"])
    assert len(set(groups)) == len(groups)


def test_api_access_logs_are_json_lines_with_the_account_and_no_credential(stack: Deployed) -> None:
    [stage] = stack.of_type("AWS::ApiGateway::Stage").values()
    setting = stage["Properties"]["AccessLogSetting"]
    assert setting["DestinationArn"] == {"Fn::GetAtt": ["ApiAccessLogGroup", "Arn"]}
    group = stack.resources["ApiAccessLogGroup"]["Properties"]
    assert group["RetentionInDays"] == RETENTION[_environment(stack)]
    log_format = setting["Format"]
    variables = set(re.findall(r"\$context\.[A-Za-z.]+", log_format))
    # Filled in as API Gateway would, the format is one JSON object.
    line = json.loads(re.sub(r"\$context\.[A-Za-z.]+", "x", log_format))
    by_variable = {value: key for key, value in json.loads(log_format).items()}
    for needed in ("requestId", "httpMethod", "resourcePath", "status", "responseLatency"):
        assert f"$context.{needed}" in variables, needed
    # The account is what the authorizer puts in its context.
    answer = gateway_policy.policy("arn:aws:execute-api:us-east-1:123456789012:api/dev/GET/v1/integrations", "acct_1")
    [context_key] = answer["context"]
    assert by_variable[f"$context.authorizer.{context_key}"] == "accountId"
    assert len(line) == len(variables)
    assert not any("apikey" in variable.lower() or "header" in variable.lower() for variable in variables)
    assert "X-API-Key" not in log_format


def test_the_accounts_logging_role_is_set_before_the_stage_when_the_stack_manages_it(
    deployed: dict[str, Deployed],
) -> None:
    # A fresh account names no CloudWatch role for API Gateway, and a stage with access logging then fails.
    dev = deployed["dev"].resources
    role_arn = dev["ApiGatewayAccount"]["Properties"]["CloudWatchRoleArn"]
    role = dev[role_arn["Fn::GetAtt"][0]]
    assert role["Properties"]["ManagedPolicyArns"] == [
        {"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"}
    ]
    assert role["DeletionPolicy"] == dev["ApiGatewayAccount"]["DeletionPolicy"] == "Retain"
    assert dev["Api"]["DependsOn"] == "ApiGatewayAccountReady"
    assert dev["ApiGatewayAccountReady"]["Metadata"]["AccountSetting"] == {"Ref": "ApiGatewayAccount"}
    # Where the account already has one (ManageApiGatewayLogsRole=false, as in the prod set), nothing replaces it.
    prod = deployed["prod"].resources
    assert not prod.keys() & {"ApiGatewayAccount", "ApiGatewayLogsRole"}
    assert _references(prod["ApiGatewayAccountReady"]) == set()


# ---------------------------------------------------------------- alarms


def test_every_alarm_notifies_a_topic_when_it_fires_and_when_it_clears(stack: Deployed) -> None:
    resources = stack.resources
    alarms = stack.of_type("AWS::CloudWatch::Alarm")
    assert len(alarms) >= 6
    given = stack.parameters.get("AlarmTopicArn")
    for logical_id, alarm in alarms.items():
        for actions in (alarm["Properties"]["AlarmActions"], alarm["Properties"]["OKActions"]):
            [action] = actions
            if given:
                assert action == given, logical_id
            else:
                assert action == {"Ref": "AlarmTopic"}, logical_id
                assert resources["AlarmTopic"]["Type"] == "AWS::SNS::Topic"
    assert ("AlarmTopic" in resources) is (not given)


def test_the_stacks_own_topic_is_encrypted_with_a_key_cloudwatch_may_use(deployed: dict[str, Deployed]) -> None:
    resources = deployed["dev"].resources
    topic = resources["AlarmTopic"]["Properties"]
    key = resources[topic["KmsMasterKeyId"]["Ref"]]
    assert key["Type"] == "AWS::KMS::Key"
    statements = key["Properties"]["KeyPolicy"]["Statement"]
    cloudwatch = [s for s in statements if s["Principal"] == {"Service": "cloudwatch.amazonaws.com"}]
    assert cloudwatch
    assert {"kms:Decrypt", "kms:GenerateDataKey*"} <= set(cloudwatch[0]["Action"])
    [subscription] = deployed["dev"].of_type("AWS::SNS::Subscription").values()
    assert subscription["Properties"]["Protocol"] == "email"
    assert deployed["dev"].resolve(subscription["Properties"]["Endpoint"]) == "oncall@example.com"
    assert not deployed["console-off"].of_type("AWS::SNS::Subscription")  # no AlarmEmail given
    assert not deployed["prod"].of_type("AWS::SNS::Topic")  # AlarmTopicArn given: nothing of our own


# ---------------------------------------------------------------- console on or off


def test_console_off_has_no_console_resource_and_nothing_refers_to_one(deployed: dict[str, Deployed]) -> None:
    stack = deployed["console-off"]
    resources = stack.resources
    assert not CONSOLE_RESOURCES & set(resources)
    assert not any(res["Type"].startswith(("AWS::CloudFront::", "AWS::S3::")) for res in resources.values())
    for logical_id, resource in {**resources, **stack.outputs}.items():
        assert not _references(resource) & CONSOLE_RESOURCES, logical_id
    body = resources["Api"]["Properties"]["Body"]
    assert not any("options" in methods for methods in body["paths"].values())  # no CORS preflight
    for response in body["x-amazon-apigateway-gateway-responses"].values():
        assert not response.get("responseParameters"), response
    for function in stack.of_type("AWS::Lambda::Function").values():
        assert function["Properties"]["Environment"]["Variables"]["CONSOLE_ORIGIN"] == ""


@pytest.mark.parametrize("name", ["dev", "prod"])
def test_console_on_allows_cors_from_its_distribution_only(deployed: dict[str, Deployed], name: str) -> None:
    stack = deployed[name]
    resources = stack.resources
    assert set(resources) >= CONSOLE_RESOURCES
    origin = {"Fn::Sub": "https://${ConsoleDistribution.DomainName}"}
    for function in stack.of_type("AWS::Lambda::Function").values():
        assert function["Properties"]["Environment"]["Variables"]["CONSOLE_ORIGIN"] == origin
    body = resources["Api"]["Properties"]["Body"]
    quoted = {"Fn::Sub": "'https://${ConsoleDistribution.DomainName}'"}
    preflights = [methods["options"] for methods in body["paths"].values() if "options" in methods]
    assert len(preflights) == len(body["paths"])
    for preflight in preflights:
        headers = preflight["x-amazon-apigateway-integration"]["responses"]["default"]["responseParameters"]
        assert headers["method.response.header.Access-Control-Allow-Origin"] == quoted
    for response in body["x-amazon-apigateway-gateway-responses"].values():
        assert response["responseParameters"] == {"gatewayresponse.header.Access-Control-Allow-Origin": quoted}


# ---------------------------------------------------------------- data a mistake could delete


def _dead_letter_queues(stack: Deployed) -> set[str]:
    targets = [
        queue["Properties"].get("RedrivePolicy", {}).get("deadLetterTargetArn")
        for queue in stack.of_type("AWS::SQS::Queue").values()
    ]
    for rule in stack.of_type("AWS::Events::Rule").values():
        targets += [target.get("DeadLetterConfig", {}).get("Arn") for target in rule["Properties"]["Targets"]]
    return {target["Fn::GetAtt"][0] for target in targets if target}


def test_production_protects_tables_and_keeps_dead_letters(deployed: dict[str, Deployed]) -> None:
    prod, dev = deployed["prod"], deployed["dev"]
    tables = prod.of_type("AWS::DynamoDB::Table")
    assert len(tables) >= 4
    for logical_id, table in tables.items():
        assert table["Properties"]["DeletionProtectionEnabled"] is True, logical_id
        assert (table["DeletionPolicy"], table["UpdateReplacePolicy"]) == ("Retain", "Retain"), logical_id
    queues = _dead_letter_queues(prod)
    assert queues == {
        "EventsDeadLetterQueue",
        "DeliveriesDeadLetterQueue",
        "ScannerEventsDeadLetterQueue",
        "RecoveryDeadLetterQueue",
    }
    for logical_id in queues:
        queue = prod.resources[logical_id]
        assert (queue["DeletionPolicy"], queue["UpdateReplacePolicy"]) == ("Retain", "Retain"), logical_id
        assert dev.resources[logical_id]["DeletionPolicy"] == "Delete"
    for table in dev.of_type("AWS::DynamoDB::Table").values():
        assert table["Properties"]["DeletionProtectionEnabled"] is False
        assert table["DeletionPolicy"] == "Delete"


def test_point_in_time_recovery_on_every_table_that_holds_state(stack: Deployed) -> None:
    tables = stack.of_type("AWS::DynamoDB::Table")
    # DeliveryLogsTable is 30 days of history under TTL, not state (the one checkov skip CKV_AWS_28 is about).
    for logical_id in set(tables) - {"DeliveryLogsTable"}:
        pitr = tables[logical_id]["Properties"]["PointInTimeRecoverySpecification"]
        assert pitr == {"PointInTimeRecoveryEnabled": True}, logical_id
    assert "ProviderStateTable" in tables


def test_every_queue_is_encrypted(stack: Deployed) -> None:
    # checkov's CKV_AWS_27 knows only KMS keys; SSE-SQS is what every queue uses.
    for logical_id, queue in stack.of_type("AWS::SQS::Queue").items():
        assert queue["Properties"]["SqsManagedSseEnabled"] is True, logical_id


def test_the_bus_rule_retries_then_keeps_what_it_cannot_deliver(stack: Deployed) -> None:
    resources = stack.resources
    policies = stack.of_type("AWS::SQS::QueuePolicy").values()
    for rule_id, rule in stack.of_type("AWS::Events::Rule").items():
        for target in rule["Properties"]["Targets"]:
            assert target["RetryPolicy"]["MaximumRetryAttempts"] > 0
            assert target["RetryPolicy"]["MaximumEventAgeInSeconds"] >= 3600
            [queue_id, _] = target["DeadLetterConfig"]["Arn"]["Fn::GetAtt"]
            assert resources[queue_id]["Type"] == "AWS::SQS::Queue"
            assert queue_id != target["Arn"]["Fn::GetAtt"][0]  # not the queue it failed to reach
            # EventBridge may send to it, from this rule only.
            allowed = [
                statement
                for policy in policies
                if {"Ref": queue_id} in policy["Properties"]["Queues"]
                for statement in policy["Properties"]["PolicyDocument"]["Statement"]
            ]
            assert any(
                s["Principal"] == {"Service": "events.amazonaws.com"}
                and s["Action"] == "sqs:SendMessage"
                and s["Condition"]["ArnEquals"]["aws:SourceArn"] == {"Fn::GetAtt": [rule_id, "Arn"]}
                for s in allowed
            )


# ---------------------------------------------------------------- least privilege for e-mail


def test_sending_email_is_allowed_only_as_the_configured_sender(stack: Deployed) -> None:
    sender = str(stack.resolve({"Ref": "EmailSender"}))
    expected = {
        f"arn:aws:ses:us-east-1:123456789012:identity/{sender}",
        f"arn:aws:ses:us-east-1:123456789012:identity/{sender.split('@')[1]}",
    }
    granted = 0
    for role in stack.of_type("AWS::IAM::Role").values():
        for policy in role["Properties"].get("Policies") or []:
            for statement in policy["PolicyDocument"]["Statement"]:
                actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
                if not any(action.startswith("ses:") for action in actions):
                    continue
                resources = statement["Resource"]
                resources = resources if isinstance(resources, list) else [resources]
                assert {stack.resolve(resource) for resource in resources} == expected
                granted += 1
    assert granted == 2  # the test delivery and the dispatcher
