"""Settings are read from the environment and refused loudly when missing or malformed."""

from __future__ import annotations

import pytest

from integrations.platform import settings


def test_values_are_converted_and_defaults_apply() -> None:
    delivery = settings.DeliverySettings.model_validate({"ALLOW_LOCAL_DESTINATIONS": "false", "EMAIL_SENDER": "a@b.c"})
    assert delivery.allow_local_destinations is False
    assert delivery.email_transport == "ses"
    assert delivery.pagerduty_events_url == "https://events.pagerduty.com/v2/enqueue"
    queues = settings.QueueSettings.model_validate(
        {
            "DELIVERIES_QUEUE_URL": "q",
            "EVENTS_DLQ_URL": "d",
            "DELIVERIES_DLQ_URL": "dd",
            "MAX_DELIVERY_ATTEMPTS": "8",
            "OTHER": "ignored",
        }
    )
    assert queues.max_delivery_attempts == 8


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"EMAIL_SENDER": "a@b.c"}, "ALLOW_LOCAL_DESTINATIONS is not set"),
        ({"ALLOW_LOCAL_DESTINATIONS": "maybe", "EMAIL_SENDER": "a@b.c"}, "must be true or false"),
        ({"ALLOW_LOCAL_DESTINATIONS": "true", "EMAIL_SENDER": "ab"}, "EMAIL_SENDER must have at least 3"),
        (
            {"ALLOW_LOCAL_DESTINATIONS": "true", "EMAIL_SENDER": "a@b.c", "EMAIL_TRANSPORT": "smtp://relay"},
            "EMAIL_TRANSPORT does not match",
        ),
    ],
)
def test_missing_or_malformed_values_are_refused(values: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        settings.DeliverySettings.model_validate(values)


@pytest.mark.parametrize("attempts", ["0", "21", "eight"])
def test_attempts_must_be_an_integer_in_range(attempts: str) -> None:
    with pytest.raises(ValueError, match="MAX_DELIVERY_ATTEMPTS"):
        settings.QueueSettings.model_validate(
            {
                "DELIVERIES_QUEUE_URL": "q",
                "EVENTS_DLQ_URL": "d",
                "DELIVERIES_DLQ_URL": "dd",
                "MAX_DELIVERY_ATTEMPTS": attempts,
            }
        )


def test_load_reads_the_environment_once(monkeypatch: pytest.MonkeyPatch) -> None:
    settings.load.cache_clear()
    monkeypatch.setenv("API_KEYS_TABLE", "keys")
    assert settings.load(settings.AuthorizerSettings).api_keys_table == "keys"
    monkeypatch.setenv("API_KEYS_TABLE", "other")
    assert settings.load(settings.AuthorizerSettings).api_keys_table == "keys"
    settings.load.cache_clear()
