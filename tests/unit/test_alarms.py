"""template.yaml alarms on every dead-letter queue and every SQS-triggered function, each notifying a topic."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from devstack.provision import plan
from devstack.template import Template, load_template
from integrations.platform import observability
from tests.conftest import ROOT

TOPIC = "arn:aws:sns:us-east-1:123456789012:integrations-alarms"


@pytest.fixture(scope="module")
def template() -> Template:
    return load_template(ROOT / "template.yaml")


def _alarms(template: Template) -> dict[str, dict[str, Any]]:
    return {lid: template.properties(lid) for lid in template.of_type("AWS::CloudWatch::Alarm")}


def _dead_letter_queues(template: Template) -> set[str]:
    """The queues' redrive targets and the event rules' dead-letter queues."""
    queues = template.of_type("AWS::SQS::Queue")
    targets = [template.properties(lid).get("RedrivePolicy", {}).get("deadLetterTargetArn") for lid in queues]
    for rule in template.of_type("AWS::Events::Rule"):
        targets += [target.get("DeadLetterConfig", {}).get("Arn") for target in template.properties(rule)["Targets"]]
    return {target["Fn::GetAtt"][0] for target in targets if target}


def _sqs_functions(template: Template) -> set[str]:
    return {
        lid
        for lid in template.of_type("AWS::Serverless::Function")
        if any(event.get("Type") == "SQS" for event in (template.properties(lid).get("Events") or {}).values())
    }


def _fires_on_any(props: dict[str, Any]) -> bool:
    return bool(
        props["Threshold"] == 0
        and props["ComparisonOperator"] == "GreaterThanThreshold"
        and props["TreatMissingData"] == "notBreaching"
    )


def test_one_alarm_per_dead_letter_queue_on_its_depth(template: Template) -> None:
    queues = _dead_letter_queues(template)
    assert queues == {
        "EventsDeadLetterQueue",
        "DeliveriesDeadLetterQueue",
        "ScannerEventsDeadLetterQueue",
        "RecoveryDeadLetterQueue",
    }
    watched = [
        props["Dimensions"][0]["Value"]["Fn::GetAtt"][0]
        for props in _alarms(template).values()
        if props["Namespace"] == "AWS/SQS" and props["MetricName"] == "ApproximateNumberOfMessagesVisible"
    ]
    assert sorted(watched) == sorted(queues)
    for props in _alarms(template).values():
        if props["Namespace"] == "AWS/SQS":
            [dimension] = props["Dimensions"]
            assert dimension["Name"] == "QueueName"
            assert dimension["Value"]["Fn::GetAtt"][1] == "QueueName"
            assert props["Statistic"] == "Maximum"
            assert _fires_on_any(props)


def test_one_errors_alarm_per_sqs_triggered_function(template: Template) -> None:
    functions = _sqs_functions(template)
    assert functions == {"FanoutFunction", "DispatcherFunction", "RecoveryBatchesFunction"}
    errors = [props for props in _alarms(template).values() if props["Namespace"] == "AWS/Lambda"]
    assert all(props["MetricName"] == "Errors" and props["Statistic"] == "Sum" for props in errors)
    assert sorted(props["Dimensions"][0]["Value"]["Ref"] for props in errors) == sorted(functions)
    assert all(props["Dimensions"][0]["Name"] == "FunctionName" and _fires_on_any(props) for props in errors)
    # and the dispatcher's own count of attempts that failed on our side
    assert len(_alarms(template)) == len(_dead_letter_queues(template)) + len(functions) + 1


def test_alarms_notify_the_given_topic_or_the_stacks_own(template: Template) -> None:
    own = plan(template, "st")
    given = plan(template, "st", {"AlarmTopicArn": TOPIC})
    assert own.resolver is not None
    assert given.resolver is not None
    assert own.resolver.condition("CreateAlarmTopic")
    assert not given.resolver.condition("CreateAlarmTopic")  # nor its key, policy and subscription
    for logical_id, props in _alarms(template).items():
        with_own = own.resolver.resolve(props)
        assert with_own["AlarmActions"] == [own["AlarmTopic"].arn], logical_id
        assert with_own["OKActions"] == [own["AlarmTopic"].arn], logical_id
        with_given = given.resolver.resolve(props)
        assert with_given["AlarmActions"] == [TOPIC], logical_id
        assert with_given["OKActions"] == [TOPIC], logical_id
        # The local stack has no CloudWatch: it skips alarms instead of failing to start.
        assert own[logical_id].status == "ignored"


def test_the_e_mail_subscription_exists_only_for_the_stacks_own_topic(template: Template) -> None:
    assert template.resources["AlarmEmailSubscription"]["Condition"] == "SubscribeAlarmEmail"
    cases = [({}, False), ({"AlarmEmail": "oncall@example.com"}, True)]
    cases.append(({"AlarmEmail": "oncall@example.com", "AlarmTopicArn": TOPIC}, False))
    for parameters, subscribed in cases:
        resolver = plan(template, "st", parameters).resolver
        assert resolver is not None
        assert resolver.condition("SubscribeAlarmEmail") is subscribed, parameters


def test_the_topic_parameter_takes_only_an_sns_arn(template: Template) -> None:
    parameter = template.body["Parameters"]["AlarmTopicArn"]
    assert parameter["Default"] == ""
    pattern = re.compile(parameter["AllowedPattern"])
    assert pattern.fullmatch("") and pattern.fullmatch(TOPIC)
    assert not pattern.fullmatch("arn:aws:sqs:us-east-1:123456789012:queue")


def test_the_service_failures_alarm_watches_the_metric_the_dispatcher_emits(
    template: Template, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    environment = template.body["Globals"]["Function"]["Environment"]["Variables"]
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", environment["POWERTOOLS_SERVICE_NAME"])
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", environment["POWERTOOLS_METRICS_NAMESPACE"])
    observability.record_service_failure()
    emitted = json.loads(capsys.readouterr().out)
    [directive] = emitted["_aws"]["CloudWatchMetrics"]
    [alarm] = [props for props in _alarms(template).values() if props["Namespace"] == directive["Namespace"]]
    assert alarm["MetricName"] == directive["Metrics"][0]["Name"] and emitted[alarm["MetricName"]] == [1.0]
    assert directive["Dimensions"] == [[d["Name"] for d in alarm["Dimensions"]]]
    assert all(emitted[d["Name"]] == d["Value"] for d in alarm["Dimensions"])
    assert alarm["Statistic"] == "Sum" and _fires_on_any(alarm)
