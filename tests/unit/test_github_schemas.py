"""tools/github_schemas.py: GitHub's OpenAPI request schemas become draft-04 JSON schemas that record their source."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path

import github_schemas
import jsonschema

from tests.conftest import ROOT
from tests.providers.fake_github import CREATE_ISSUE_SCHEMA


def test_nullable_becomes_a_null_type_or_a_null_alternative() -> None:
    openapi = {
        "type": "object",
        "properties": {
            "assignee": {"type": "string", "nullable": True},
            "milestone": {"oneOf": [{"type": "string"}, {"type": "integer"}], "nullable": True},
            "body": {"type": "string", "nullable": False},
        },
    }

    assert github_schemas.json_schema(openapi) == {
        "type": "object",
        "properties": {
            "assignee": {"type": ["string", "null"]},
            "milestone": {"oneOf": [{"type": "string"}, {"type": "integer"}, {"type": "null"}]},
            "body": {"type": "string"},
        },
    }


def test_extracts_each_operations_body_schema_and_records_the_tarballs_digest(tmp_path: Path) -> None:
    body = {"type": "object", "properties": {"title": {"type": "string"}}, "required": ["title"]}
    document = {
        "paths": {
            "/repos/{owner}/{repo}/issues": {
                "post": {
                    "operationId": "issues/create",
                    "requestBody": {"content": {"application/json": {"schema": body}}},
                }
            }
        }
    }
    tarball = tmp_path / "package.tgz"
    with tarfile.open(tarball, "w:gz") as archive:
        data = json.dumps(document).encode()
        member = tarfile.TarInfo(github_schemas.DESCRIPTION)
        member.size = len(data)
        archive.addfile(member, io.BytesIO(data))

    (schema,) = github_schemas.extract(tarball).values()

    assert {key: schema[key] for key in body} == body
    assert schema["$schema"] == "http://json-schema.org/draft-04/schema#"
    assert hashlib.sha256(tarball.read_bytes()).hexdigest() in schema["description"]


def test_the_vendored_schema_is_draft_04_from_the_scripts_version() -> None:
    schema = json.loads((ROOT / "tests" / "fixtures" / CREATE_ISSUE_SCHEMA).read_text())

    jsonschema.Draft4Validator.check_schema(schema)
    assert f"{github_schemas.PACKAGE} {github_schemas.VERSION}" in schema["description"]
    assert '"nullable"' not in json.dumps(schema)
    assert schema["required"] == ["title"]
