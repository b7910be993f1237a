"""One function per resource type that the local stack creates in moto, from resolved properties."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from typing import Any

import boto3

from devstack.resources import ResourceRecord
from devstack.template import REGION, to_env_value

log = logging.getLogger(__name__)

type ClientFactory = Callable[[str], Any]
type ClientSource = boto3.session.Session | Mapping[str, Any] | ClientFactory | None


def client_factory(source: ClientSource) -> ClientFactory:
    """Turn a boto3 session, a {service: client} mapping or a factory into a cached factory."""
    if isinstance(source, Mapping):
        clients = source
        return lambda service: clients[service]
    if callable(source) and not isinstance(source, boto3.session.Session):
        return source
    session = source or boto3.session.Session()
    cache: dict[str, Any] = {}

    def get(service: str) -> Any:
        if service not in cache:
            # AWS_ENDPOINT_URL (moto server) is honoured by botocore; under mock_aws there is none.
            cache[service] = session.client(service, region_name=session.region_name or REGION)
        return cache[service]

    return get


def _tags(props: Mapping[str, Any]) -> list[dict[str, str]]:
    tags = props.get("Tags") or []
    if isinstance(tags, Mapping):
        return [{"Key": key, "Value": to_env_value(value)} for key, value in tags.items()]
    return [{"Key": tag["Key"], "Value": to_env_value(tag["Value"])} for tag in tags]


def _create_table(client: ClientFactory, record: ResourceRecord, props: dict[str, Any]) -> None:
    ddb = client("dynamodb")
    billing = props.get("BillingMode", "PROVISIONED")
    throughput = props.get("ProvisionedThroughput") or {"ReadCapacityUnits": 1, "WriteCapacityUnits": 1}
    args: dict[str, Any] = {
        "TableName": record.name,
        "KeySchema": props["KeySchema"],
        "AttributeDefinitions": props["AttributeDefinitions"],
        "BillingMode": billing,
    }
    if billing == "PROVISIONED":
        args["ProvisionedThroughput"] = throughput
    gsis = []
    for index in props.get("GlobalSecondaryIndexes") or []:
        gsi = {key: index[key] for key in ("IndexName", "KeySchema", "Projection")}
        if billing == "PROVISIONED":
            gsi["ProvisionedThroughput"] = index.get("ProvisionedThroughput") or throughput
        gsis.append(gsi)
    if gsis:
        args["GlobalSecondaryIndexes"] = gsis
    lsis = [
        {key: index[key] for key in ("IndexName", "KeySchema", "Projection")}
        for index in props.get("LocalSecondaryIndexes") or []
    ]
    if lsis:
        args["LocalSecondaryIndexes"] = lsis
    stream = props.get("StreamSpecification")
    if stream:
        args["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": stream["StreamViewType"]}
    sse = props.get("SSESpecification")
    if sse:
        args["SSESpecification"] = {"Enabled": bool(sse.get("SSEEnabled"))}
    if props.get("Tags"):
        args["Tags"] = _tags(props)
    table = ddb.create_table(**args)["TableDescription"]
    record.arn = table["TableArn"]
    if table.get("LatestStreamArn"):
        record.attributes["StreamArn"] = table["LatestStreamArn"]
    ttl = props.get("TimeToLiveSpecification")
    if ttl and ttl.get("Enabled"):
        ddb.update_time_to_live(
            TableName=record.name,
            TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": True},
        )
    pitr = props.get("PointInTimeRecoverySpecification")
    if pitr and pitr.get("PointInTimeRecoveryEnabled"):
        ddb.update_continuous_backups(
            TableName=record.name,
            PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True},
        )


_QUEUE_ATTRIBUTES = (
    "DelaySeconds",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ReceiveMessageWaitTimeSeconds",
    "VisibilityTimeout",
    "RedrivePolicy",
    "RedriveAllowPolicy",
    "FifoQueue",
    "ContentBasedDeduplication",
    "DeduplicationScope",
    "FifoThroughputLimit",
    "KmsMasterKeyId",
    "KmsDataKeyReusePeriodSeconds",
    "SqsManagedSseEnabled",
)


def _create_queue(client: ClientFactory, record: ResourceRecord, props: dict[str, Any]) -> None:
    sqs = client("sqs")
    attributes = {}
    for key in _QUEUE_ATTRIBUTES:
        if key in props:
            value = props[key]
            attributes[key] = json.dumps(value) if isinstance(value, (dict, list)) else to_env_value(value)
    args: dict[str, Any] = {"QueueName": record.name, "Attributes": attributes}
    if props.get("Tags"):
        args["tags"] = {tag["Key"]: tag["Value"] for tag in _tags(props)}
    url = sqs.create_queue(**args)["QueueUrl"]
    record.arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    record.ref = record.attributes["QueueUrl"] = url


def _create_event_bus(client: ClientFactory, record: ResourceRecord, props: dict[str, Any]) -> None:
    record.arn = client("events").create_event_bus(Name=record.name)["EventBusArn"]


# Target services moto's EventBridge can deliver to; anything else would make PutEvents fail.
_RULE_TARGET_SERVICES = ("sqs", "logs", "events")
_TARGET_KEYS = (
    "Id",
    "Arn",
    "Input",
    "InputPath",
    "InputTransformer",
    "SqsParameters",
    "DeadLetterConfig",
    "RetryPolicy",
    "RoleArn",
)


def _create_rule(client: ClientFactory, record: ResourceRecord, props: dict[str, Any]) -> None:
    events = client("events")
    args: dict[str, Any] = {"Name": record.name, "State": props.get("State", "ENABLED")}
    for key in ("EventBusName", "ScheduleExpression", "Description"):
        if key in props:
            args[key] = props[key]
    if "EventPattern" in props:
        pattern = props["EventPattern"]
        args["EventPattern"] = pattern if isinstance(pattern, str) else json.dumps(pattern)
    record.arn = events.put_rule(**args)["RuleArn"]
    record.attributes["Arn"] = record.arn
    targets = []
    for target in props.get("Targets") or []:
        service = str(target["Arn"]).split(":")[2]
        if service not in _RULE_TARGET_SERVICES:
            log.warning(
                "rule %s: target %s (%s) is not emulated locally; skipped", record.logical_id, target["Id"], service
            )
            continue
        targets.append({key: target[key] for key in _TARGET_KEYS if key in target})
    if targets:
        events.put_targets(Rule=record.name, EventBusName=args.get("EventBusName", "default"), Targets=targets)


def _create_topic(client: ClientFactory, record: ResourceRecord, props: dict[str, Any]) -> None:
    sns = client("sns")
    attributes = {
        key: to_env_value(props[key])
        for key in ("DisplayName", "FifoTopic", "ContentBasedDeduplication", "KmsMasterKeyId")
        if key in props
    }
    args: dict[str, Any] = {"Name": record.name, "Attributes": attributes}
    if props.get("Tags"):
        args["Tags"] = _tags(props)
    arn = sns.create_topic(**args)["TopicArn"]
    record.ref = record.arn = record.attributes["TopicArn"] = arn
    for subscription in props.get("Subscription") or []:
        sns.subscribe(TopicArn=arn, Protocol=subscription["Protocol"], Endpoint=subscription["Endpoint"])


def _create_subscription(client: ClientFactory, record: ResourceRecord, props: dict[str, Any]) -> None:
    attributes = {
        key: json.dumps(props[key]) if isinstance(props[key], dict) else to_env_value(props[key])
        for key in ("RawMessageDelivery", "FilterPolicy", "RedrivePolicy")
        if key in props
    }
    response = client("sns").subscribe(
        TopicArn=props["TopicArn"],
        Protocol=props["Protocol"],
        Endpoint=props["Endpoint"],
        Attributes=attributes,
        ReturnSubscriptionArn=True,
    )
    record.ref = record.arn = response["SubscriptionArn"]


def _create_secret(client: ClientFactory, record: ResourceRecord, props: dict[str, Any]) -> None:
    # GenerateSecretString is not reproduced: a local secret only needs to exist.
    secret = props.get("SecretString", "{}")
    response = client("secretsmanager").create_secret(Name=record.name, SecretString=secret)
    record.ref = record.arn = response["ARN"]


def _create_parameter(client: ClientFactory, record: ResourceRecord, props: dict[str, Any]) -> None:
    client("ssm").put_parameter(Name=record.name, Value=to_env_value(props["Value"]), Type=props.get("Type", "String"))


def _create_usage_plan(client: ClientFactory, record: ResourceRecord, props: dict[str, Any]) -> None:
    # Made in moto so that integrations-ops and the local stack add each account's usage key to it, as in AWS; the
    # gateway emulator applies its limits (devstack.throttling).
    args: dict[str, Any] = {"name": props.get("UsagePlanName", record.name)}
    if "Description" in props:
        args["description"] = props["Description"]
    args["apiStages"] = [{"apiId": stage["ApiId"], "stage": stage["Stage"]} for stage in props.get("ApiStages") or []]
    throttle = props.get("Throttle") or {}
    if throttle:
        args["throttle"] = {
            **({"rateLimit": float(throttle["RateLimit"])} if "RateLimit" in throttle else {}),
            **({"burstLimit": int(throttle["BurstLimit"])} if "BurstLimit" in throttle else {}),
        }
    quota = props.get("Quota") or {}
    if quota:
        args["quota"] = {"limit": int(quota["Limit"]), "period": quota["Period"], "offset": int(quota.get("Offset", 0))}
    record.ref = client("apigateway").create_usage_plan(**args)["id"]


CREATORS: dict[str, Callable[[ClientFactory, ResourceRecord, dict[str, Any]], None]] = {
    "AWS::DynamoDB::Table": _create_table,
    "AWS::SQS::Queue": _create_queue,
    "AWS::Events::EventBus": _create_event_bus,
    "AWS::Events::Rule": _create_rule,
    "AWS::SNS::Topic": _create_topic,
    "AWS::SNS::Subscription": _create_subscription,
    "AWS::SecretsManager::Secret": _create_secret,
    "AWS::SSM::Parameter": _create_parameter,
    "AWS::ApiGateway::UsagePlan": _create_usage_plan,
}
