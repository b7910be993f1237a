"""Moto for the providers' tests: the provider-state table as template.yaml declares it, SES with a verified sender."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any

from moto import mock_aws
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends

from devstack.provision import provision
from devstack.template import Template, load_template
from integrations.platform import aws
from integrations.storage.provider_state import DynamoProviderState
from tests.conftest import ROOT

TABLE = "ProviderStateTable"


@cache
def _template() -> Template:
    """template.yaml reduced to the provider-state table: provisioning the whole stack per test is slower."""
    full = load_template(ROOT / "template.yaml")
    return Template(full.path, {**full.body, "Resources": {TABLE: full.resources[TABLE]}})


@contextmanager
def mocked_aws(verified_sender: str | None = None) -> Iterator[DynamoProviderState]:
    """Moto with the provider-state table; yields the provider state kept in it."""
    with mock_aws():
        resources = provision(_template())
        if verified_sender:
            aws.client("sesv2").create_email_identity(EmailIdentity=verified_sender)
        yield DynamoProviderState(resources.ref(TABLE))


def sent_emails() -> list[Any]:
    """What moto's SES sent, oldest first (moto keeps the HTML body of a message that has both)."""
    return list(ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages)
