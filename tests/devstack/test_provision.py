"""Provisioning from the template itself, under moto's mock_aws."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path

import boto3
import pytest

from devstack.provision import creation_order, plan, provision
from devstack.template import load_template

from .conftest import TEMPLATE

Fragment = Callable[..., Path]


def test_every_table_of_template_yaml_exists_with_its_keys_indexes_and_ttl(aws: boto3.session.Session) -> None:
    template = load_template(TEMPLATE)
    resources = provision(template, aws, "it")
    ddb = aws.client("dynamodb")
    declared = template.of_type("AWS::DynamoDB::Table")
    assert declared, "template.yaml declares tables"
    for logical_id, resource in declared.items():
        props = resource["Properties"]
        name = resources.ref(logical_id)
        assert name == f"it-{logical_id}"
        table = ddb.describe_table(TableName=name)["Table"]
        assert table["KeySchema"] == props["KeySchema"]
        assert sorted(table["AttributeDefinitions"], key=str) == sorted(props["AttributeDefinitions"], key=str)
        assert table["BillingModeSummary"]["BillingMode"] == props["BillingMode"]
        assert resources.arn(logical_id) == table["TableArn"]
        wanted_gsis = {gsi["IndexName"]: gsi["KeySchema"] for gsi in props.get("GlobalSecondaryIndexes", [])}
        got_gsis = {gsi["IndexName"]: gsi["KeySchema"] for gsi in table.get("GlobalSecondaryIndexes", [])}
        assert got_gsis == wanted_gsis
        ttl = ddb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
        if "TimeToLiveSpecification" in props:
            assert ttl == {
                "TimeToLiveStatus": "ENABLED",
                "AttributeName": props["TimeToLiveSpecification"]["AttributeName"],
            }
        else:
            assert ttl["TimeToLiveStatus"] == "DISABLED"


def test_stack_resources_are_recorded_not_created(aws: boto3.session.Session) -> None:
    resources = provision(TEMPLATE, aws, "it")
    assert resources["AuthorizerFunction"].status == "served"
    assert resources["Api"].ref == "local"
    assert resources["IntegrationsTable"].status == "created"
    assert resources.get_att("AuthorizerFunction", "Arn").endswith(":function:it-AuthorizerFunction")


QUEUES = """
    Resources:
      # Declared before its dead-letter queue, so creation must follow references, not file order.
      WorkQueue:
        Type: AWS::SQS::Queue
        Properties:
          VisibilityTimeout: 60
          MessageRetentionPeriod: 86400
          SqsManagedSseEnabled: true
          RedrivePolicy: {deadLetterTargetArn: !GetAtt WorkDLQ.Arn, maxReceiveCount: 5}
      WorkDLQ:
        Type: AWS::SQS::Queue
        Properties: {MessageRetentionPeriod: 1209600}
      Bus:
        Type: AWS::Events::EventBus
        Properties: {Name: !Sub "${AWS::StackName}-events"}
      ToWork:
        Type: AWS::Events::Rule
        Properties:
          EventBusName: !Ref Bus
          EventPattern: {source: [apviso.scanner]}
          Targets:
            - {Id: work, Arn: !GetAtt WorkQueue.Arn}
      Alerts:
        Type: AWS::SNS::Topic
      WorkAlarm:
        Type: AWS::CloudWatch::Alarm
        Properties: {MetricName: x}
      Strange:
        Type: AWS::Made::Up
"""


def test_queues_are_created_after_their_dead_letter_queues(fragment: Fragment, aws: boto3.session.Session) -> None:
    template = load_template(fragment(QUEUES))
    resolver = plan(template, "st").resolver
    assert resolver is not None
    order = creation_order(template, resolver)
    assert order.index("WorkDLQ") < order.index("WorkQueue") < order.index("ToWork")
    assert order.index("Bus") < order.index("ToWork")

    resources = provision(template, aws, "st")
    sqs = aws.client("sqs")
    attributes = sqs.get_queue_attributes(QueueUrl=resources.ref("WorkQueue"), AttributeNames=["All"])["Attributes"]
    assert attributes["VisibilityTimeout"] == "60"
    assert attributes["MessageRetentionPeriod"] == "86400"
    redrive = json.loads(attributes["RedrivePolicy"])
    assert redrive["deadLetterTargetArn"] == resources.arn("WorkDLQ")
    assert int(redrive["maxReceiveCount"]) == 5
    assert resources.get_att("WorkQueue", "QueueName") == "st-WorkQueue"


def test_rules_deliver_bus_events_to_their_queues(fragment: Fragment, aws: boto3.session.Session) -> None:
    resources = provision(fragment(QUEUES), aws, "st")
    assert resources.ref("Bus") == "st-events"
    events = aws.client("events")
    rule = events.describe_rule(Name=resources.ref("ToWork"), EventBusName="st-events")
    assert json.loads(rule["EventPattern"]) == {"source": ["apviso.scanner"]}
    events.put_events(
        Entries=[
            {
                "Source": "apviso.scanner",
                "DetailType": "scan.started",
                "Detail": '{"id": "e1"}',
                "EventBusName": "st-events",
            }
        ]
    )
    messages = aws.client("sqs").receive_message(QueueUrl=resources.ref("WorkQueue"), WaitTimeSeconds=0)["Messages"]
    assert json.loads(messages[0]["Body"])["detail"] == {"id": "e1"}


def test_topics_alarms_and_unknown_types(
    fragment: Fragment, aws: boto3.session.Session, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        resources = provision(fragment(QUEUES), aws, "st")
    topics = aws.client("sns").list_topics()["Topics"]
    assert {"TopicArn": resources.ref("Alerts")} in topics
    assert resources["WorkAlarm"].status == "ignored"
    assert resources["Strange"].status == "unsupported"
    assert "Strange (AWS::Made::Up) is not emulated" in caplog.text


def test_plan_names_everything_without_calling_aws(fragment: Fragment) -> None:
    resources = plan(fragment(QUEUES), "st")
    assert resources["WorkQueue"].status == "planned"
    assert resources.ref("Bus") == "st-events"
    assert resources.arn("WorkDLQ") == "arn:aws:sqs:us-east-1:123456789012:st-WorkDLQ"
