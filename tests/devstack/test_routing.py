"""Route precedence as API Gateway resolves REST API resources."""

from __future__ import annotations

import pytest

from devstack.routing import Route, RouteTable

ROUTES = RouteTable(
    [
        Route("/{proxy+}", "ANY", "catch_all"),
        Route("/v1/integrations/{id}", "ANY", "integration_any"),
        Route("/v1/integrations/{id}", "PATCH", "update"),
        Route("/v1/integrations/providers", "GET", "providers"),
        Route("/v1/integrations/providers", "ANY", "providers_any"),
        Route("/v1/integrations", "GET", "list"),
        Route("/v1/integrations/{id}/logs", "GET", "logs"),
        Route("/v1/{proxy+}", "DELETE", "v1_delete"),
        Route("/", "GET", "root"),
    ]
)


@pytest.mark.parametrize(
    ("method", "path", "function", "parameters"),
    [
        ("GET", "/v1/integrations/providers", "providers", {}),  # literal beats {id}
        ("POST", "/v1/integrations/providers", "providers_any", {}),  # ANY on the literal still beats {id}
        ("PATCH", "/v1/integrations/abc", "update", {"id": "abc"}),  # exact method beats ANY
        ("GET", "/v1/integrations/abc", "integration_any", {"id": "abc"}),
        ("GET", "/v1/integrations/abc/logs", "logs", {"id": "abc"}),  # {param} beats a greedy parent
        ("GET", "/v1/integrations/abc/logs/", "logs", {"id": "abc"}),  # a trailing slash is ignored
        ("GET", "/v1/integrations/a%20b", "integration_any", {"id": "a b"}),
        ("GET", "/v1/integrations", "list", {}),
        ("POST", "/v1/integrations", "catch_all", {"proxy": "v1/integrations"}),
        ("DELETE", "/v1/integrations", "v1_delete", {"proxy": "integrations"}),  # deeper literal prefix wins
        ("GET", "/v2/a/b/c", "catch_all", {"proxy": "v2/a/b/c"}),  # greedy takes every segment
        ("GET", "/", "root", {}),
    ],
)
def test_precedence(method: str, path: str, function: str, parameters: dict[str, str]) -> None:
    match = ROUTES.match(method, path)
    assert match is not None
    assert (match.route.function, match.path_parameters) == (function, parameters)


def test_no_match() -> None:
    table = RouteTable([Route("/a/{id}", "GET", "a"), Route("/b/{proxy+}", "ANY", "b")])
    assert table.match("GET", "/a") is None  # a {param} needs a segment
    assert table.match("GET", "/b") is None  # so does {proxy+}
    assert table.match("POST", "/a/1") is None  # no such method, no ANY
    assert table.match("GET", "/a/1/2") is None
    assert table.match("GET", "/") is None
