"""Extract the request-body schemas of the GitHub REST operations we call from GitHub's official OpenAPI description.

GitHub publishes the description in github/rest-api-description (MIT); the npm package ``@octokit/openapi`` ships it
as ``generated/api.github.com.json``, adding only ``x-octokit`` extensions to the operations. The whole document is
13 MB, so the tests vendor only the schemas they use:

    python tools/github_schemas.py                  # npm pack @octokit/openapi@VERSION, extract, write
    python tools/github_schemas.py --from FILE.tgz  # the same from a tarball already at hand

Each operation's schema goes to ``tests/fixtures/github-<operation>.request.schema.json`` as JSON Schema draft-04
(OpenAPI 3.0's ``nullable`` rewritten as a ``null`` type), recording the package, its version and the tarball's
sha256. Update VERSION and run it again to follow GitHub's changes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import tarfile
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
PACKAGE, VERSION = "@octokit/openapi", "23.0.2"
DESCRIPTION = "package/generated/api.github.com.json"
# (method, path) → operationId of every GitHub call with a body that integrations/providers/github.py makes.
OPERATIONS = {("post", "/repos/{owner}/{repo}/issues"): "issues/create"}


def fetch(directory: Path) -> Path:
    """The package's tarball, downloaded with npm (the registry's own client)."""
    name = subprocess.run(
        ["npm", "pack", "--silent", f"{PACKAGE}@{VERSION}"], cwd=directory, check=True, capture_output=True, text=True
    ).stdout.split()[-1]
    return directory / name


def json_schema(schema: Any) -> Any:
    """An OpenAPI 3.0 schema object as JSON Schema draft-04: ``nullable: true`` becomes a ``null`` alternative."""
    if isinstance(schema, list):
        return [json_schema(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    converted = {key: json_schema(value) for key, value in schema.items() if key != "nullable"}
    if schema.get("nullable") is True:
        if "type" in converted:
            converted["type"] = [converted["type"], "null"]
        elif "oneOf" in converted:
            converted["oneOf"] = [*converted["oneOf"], {"type": "null"}]
        elif "anyOf" in converted:
            converted["anyOf"] = [*converted["anyOf"], {"type": "null"}]
    return converted


def extract(tarball: Path) -> dict[str, dict[str, Any]]:
    """Each operation's request-body schema, by operationId, with where it came from."""
    digest = hashlib.sha256(tarball.read_bytes()).hexdigest()
    with tarfile.open(tarball) as archive:
        member = archive.extractfile(DESCRIPTION)
        assert member is not None, f"{DESCRIPTION} is not in {tarball.name}"
        document = json.load(member)
    schemas = {}
    for (method, path), operation_id in OPERATIONS.items():
        operation = document["paths"][path][method]
        assert operation["operationId"] == operation_id, operation["operationId"]
        body = operation["requestBody"]["content"]["application/json"]["schema"]
        assert "$ref" not in json.dumps(body), "references would need resolving"
        schemas[operation_id] = {
            "$schema": "http://json-schema.org/draft-04/schema#",
            "description": (
                f"Request body of {operation_id} ({method.upper()} {path}) from GitHub's REST API OpenAPI description "
                f"(github/rest-api-description, MIT) as {PACKAGE} {VERSION} ships it ({DESCRIPTION}, tarball sha256 "
                f"{digest}); OpenAPI's nullable rewritten for draft-04 by tools/github_schemas.py."
            ),
            **json_schema(body),
        }
    return schemas


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--from", dest="tarball", type=Path, help="a tarball of the package (default: npm pack it)")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        schemas = extract(arguments.tarball or fetch(Path(directory)))
    for operation_id, schema in schemas.items():
        target = FIXTURES / f"github-{operation_id.replace('/', '-')}.request.schema.json"
        target.write_text(json.dumps(schema, indent=2, ensure_ascii=False) + "\n")
        print(f"wrote {target.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
