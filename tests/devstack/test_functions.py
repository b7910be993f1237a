"""The function table read from the template, and in-process handler loading."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from devstack.functions import ApiEvent, FunctionError, SqsEvent, load_functions, merged_environment
from devstack.provision import plan
from devstack.template import load_template

from .conftest import TEMPLATE

Fragment = Callable[..., Path]


def test_function_table_of_template_yaml() -> None:
    template = load_template(TEMPLATE)
    functions = load_functions(template, plan(template, "st"))
    assert set(functions) == set(template.of_type("AWS::Serverless::Function"))
    fallback = functions["RouteFallbackFunction"]
    assert fallback.handler == "app.lambda_handler"  # from Globals
    assert fallback.handler_file == TEMPLATE.parent / "functions" / "route_fallback" / "app.py"
    assert (fallback.timeout, fallback.memory_size) == (10, 128)  # Globals' Timeout, its own MemorySize
    assert ApiEvent("Unknown", "/{proxy+}", "ANY", "Api", "ApiKeyAuthorizer") in fallback.api_events
    assert functions["AuthorizerFunction"].api_events == ()
    env = functions["CreateIntegrationFunction"].environment
    assert env["INTEGRATIONS_TABLE"] == "st-IntegrationsTable"
    assert env["SECRETS_PREFIX"] == "st/integrations"
    assert env["ALLOW_LOCAL_DESTINATIONS"] == "false"
    assert merged_environment(functions)["API_KEYS_TABLE"] == "st-ApiKeysTable"


SQS_AND_AUTH = """
    Globals:
      Function:
        Handler: app.lambda_handler
        Timeout: 5
        Environment: {Variables: {SHARED: g, OVERRIDDEN: g}}
    Resources:
      Api:
        Type: AWS::Serverless::Api
        Properties:
          StageName: v
          Auth:
            DefaultAuthorizer: Keys
            Authorizers: {Keys: {FunctionArn: !GetAtt Auth.Arn, FunctionPayloadType: REQUEST,
                                 Identity: {Headers: [X-API-Key]}}}
      Auth:
        Type: AWS::Serverless::Function
        Properties: {CodeUri: functions/auth/}
      Health:
        Type: AWS::Serverless::Function
        Properties:
          CodeUri: functions/health/
          Environment: {Variables: {OVERRIDDEN: local, QUEUE: !Ref Jobs, FLAG: true}}
          Events:
            Open: {Type: Api, Properties: {RestApiId: !Ref Api, Path: /health, Method: get, Auth: {Authorizer: NONE}}}
            Guarded: {Type: Api, Properties: {RestApiId: !Ref Api, Path: /admin, Method: post}}
      Worker:
        Type: AWS::Serverless::Function
        Properties:
          CodeUri: functions/worker/
          Events:
            Jobs:
              Type: SQS
              Properties: {Queue: !GetAtt Jobs.Arn, BatchSize: 7, FunctionResponseTypes: [ReportBatchItemFailures]}
            Plain:
              Type: SQS
              Properties: {Queue: !GetAtt Other.Arn}
      Jobs: {Type: AWS::SQS::Queue}
      Other: {Type: AWS::SQS::Queue}
"""


def test_events_auth_environment_and_sqs_sources(fragment: Fragment) -> None:
    template = load_template(fragment(SQS_AND_AUTH))
    functions = load_functions(template, plan(template, "st"))
    health = functions["Health"]
    assert health.api_events == (
        ApiEvent("Open", "/health", "GET", "Api", None),
        ApiEvent("Guarded", "/admin", "POST", "Api", "Keys"),
    )
    assert health.environment == {
        "SHARED": "g",
        "OVERRIDDEN": "local",
        "QUEUE": "https://sqs.us-east-1.amazonaws.com/123456789012/st-Jobs",
        "FLAG": "true",
    }
    assert health.timeout == 5
    assert functions["Worker"].sqs_events == (
        SqsEvent("Jobs", "Jobs", 7, report_batch_item_failures=True, enabled=True),
        SqsEvent("Plain", "Other", 10, report_batch_item_failures=False, enabled=True),
    )


TWO = """
    Resources:
      One: {Type: AWS::Serverless::Function, Properties: {CodeUri: functions/one/, Handler: app.lambda_handler}}
      Two: {Type: AWS::Serverless::Function, Properties: {CodeUri: functions/two/, Handler: app.lambda_handler,
                                                           Timeout: 7, MemorySize: 512}}
"""

HANDLER = """
import os
NAME = {name!r}
AT_IMPORT = os.environ.get("DEVSTACK_TEST_SETTING")

def lambda_handler(event, context):
    return {{"name": NAME, "setting": AT_IMPORT, "module": __name__, "event": event,
             "context": [context.function_name, context.memory_limit_in_mb, context.invoked_function_arn,
                         context.aws_request_id, context.get_remaining_time_in_millis()]}}
"""


def test_handlers_named_app_never_collide_and_load_lazily(fragment: Fragment, monkeypatch: pytest.MonkeyPatch) -> None:
    path = fragment(TWO, {"functions/one": HANDLER.format(name="one"), "functions/two": HANDLER.format(name="two")})
    template = load_template(path)
    functions = load_functions(template, plan(template, "st"))
    one, two = functions["One"], functions["Two"]
    assert one.module_name != two.module_name
    sys.modules.pop(one.module_name, None)
    sys.modules.pop(two.module_name, None)
    monkeypatch.setenv("DEVSTACK_TEST_SETTING", "set before the first call")
    assert one.module_name not in sys.modules  # nothing is imported before the first call

    first, second = one.invoke({"n": 1}), two.invoke({"n": 2})
    assert (first["name"], second["name"]) == ("one", "two")
    assert first["module"] == one.module_name
    assert second["module"] == two.module_name
    assert first["setting"] == "set before the first call"
    name, memory, arn, request_id, remaining = second["context"]
    assert (name, memory, arn) == ("st-Two", 512, "arn:aws:lambda:us-east-1:123456789012:function:st-Two")
    assert request_id
    assert 6000 < remaining <= 7000
    assert one.invoke({"n": 3})["event"] == {"n": 3}


def test_results_must_be_json_and_failed_imports_are_retried(fragment: Fragment) -> None:
    broken = "raise ImportError('not yet')\n"
    path = fragment(TWO, {"functions/one": broken, "functions/two": "def lambda_handler(e, c):\n    return {1j}\n"})
    template = load_template(path)
    functions = load_functions(template, plan(template, "st"))
    with pytest.raises(ImportError):
        functions["One"].invoke({})
    functions["One"].handler_file.write_text("def lambda_handler(e, c):\n    return 'ok'\n")
    assert functions["One"].invoke({}) == "ok"
    with pytest.raises(FunctionError, match="MarshalError"):
        functions["Two"].invoke({})
