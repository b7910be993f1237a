"""The authorizer's policy: every route of the stage, allowed with the account or denied."""

from __future__ import annotations

import pytest

from integrations.api import gateway_policy

ARN = "arn:aws:execute-api:eu-west-1:123456789012:abcdef1234/prod/PATCH/v1/integrations/0194-abc"


def test_a_known_key_is_allowed_every_route_of_its_stage_with_its_account() -> None:
    answer = gateway_policy.policy(ARN, "acct_1")
    assert answer == {
        "principalId": "acct_1",
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Action": "execute-api:Invoke",
                    "Effect": "Allow",
                    "Resource": ["arn:aws:execute-api:eu-west-1:123456789012:abcdef1234/prod/*/*"],
                }
            ],
        },
        "context": {"accountId": "acct_1"},
    }


def test_the_accounts_usage_key_is_the_usage_identifier_key_api_gateway_throttles_by() -> None:
    answer = gateway_policy.policy(ARN, "acct_1", "gw-usage-key-value-0123456789")
    assert answer["usageIdentifierKey"] == "gw-usage-key-value-0123456789"
    assert answer["context"] == {"accountId": "acct_1"}, "the usage key is not handed to the functions"
    assert "usageIdentifierKey" not in gateway_policy.policy(ARN, None, "gw-usage-key-value-0123456789")


def test_an_unknown_key_is_denied_every_route_without_a_context() -> None:
    answer = gateway_policy.policy(ARN, None)
    [statement] = answer["policyDocument"]["Statement"]
    assert statement["Effect"] == "Deny"
    assert statement["Resource"] == ["arn:aws:execute-api:eu-west-1:123456789012:abcdef1234/prod/*/*"]
    assert answer["principalId"] == "anonymous" and "context" not in answer


@pytest.mark.parametrize(
    "arn", ["", "abcdef1234/prod/GET/x", "arn:aws:execute-api:eu-west-1:123456789012:abcdef1234", "arn:x/prod/GET/"]
)
def test_a_malformed_method_arn_is_refused(arn: str) -> None:
    with pytest.raises(ValueError, match="method ARN"):
        gateway_policy.policy(arn, "acct_1")
