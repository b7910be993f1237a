"""template.yaml alarms on every dead-letter queue and every SQS-triggered function, notifying the optional topic."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from devstack.provision import plan
from devstack.template import Template, load_template
from integrations import observability
from tests.conftest import ROOT

TOPIC = "arn:aws:sns:us-east-1:123456789012:integrations-alarms"


@pytest.fixture(scope="module")
def template() -> Template:
    return load_template(ROOT / "template.yaml")


def _alarms(template: Template) -> dict[str, dict[str, Any]]:
    return {lid: template.properties(lid) for lid in template.of_type("AWS::CloudWatch::Alarm")}


def _dead_letter_queues(template: Template) -> set[str]:
    queues = template.of_type("AWS::SQS::Queue")
    targets = [template.properties(lid).get("RedrivePolicy", {}).get("deadLetterTargetArn") for lid in queues]
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
    assert queues == {"EventsDeadLetterQueue", "DeliveriesDeadLetterQueue"}
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
    assert functions == {"FanoutFunction", "DispatcherFunction"}
    errors = [props for props in _alarms(template).values() if props["Namespace"] == "AWS/Lambda"]
    assert all(props["MetricName"] == "Errors" and props["Statistic"] == "Sum" for props in errors)
    assert sorted(props["Dimensions"][0]["Value"]["Ref"] for props in errors) == sorted(functions)
    assert all(props["Dimensions"][0]["Name"] == "FunctionName" and _fires_on_any(props) for props in errors)
    # and the dispatcher's own count of attempts that failed on our side
    assert len(_alarms(template)) == len(_dead_letter_queues(template)) + len(functions) + 1


def test_alarms_notify_the_topic_only_when_one_is_given(template: Template) -> None:
    silent = plan(template, "st")
    notifying = plan(template, "st", {"AlarmTopicArn": TOPIC})
    for logical_id, props in _alarms(template).items():
        assert silent.resolver is not None
        assert notifying.resolver is not None
        without = silent.resolver.resolve(props)
        assert "AlarmActions" not in without
        assert "OKActions" not in without
        with_topic = notifying.resolver.resolve(props)
        assert with_topic["AlarmActions"] == [TOPIC], logical_id
        assert with_topic["OKActions"] == [TOPIC], logical_id
        # The local stack has no CloudWatch: it skips alarms instead of failing to start.
        assert silent[logical_id].status == "ignored"


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
