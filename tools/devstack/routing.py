"""REST API route matching with API Gateway's precedence: literal > {param} > {proxy+}, method > ANY."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import unquote

LITERAL, PARAMETER, GREEDY = 0, 1, 2


@dataclass(frozen=True)
class Route:
    """A resource path and method served by a function."""

    path: str
    method: str
    function: str
    authorizer: str | None = None


@dataclass(frozen=True)
class RouteMatch:
    """The route a request resolved to, with its path parameters."""

    route: Route
    path_parameters: dict[str, str]


def _segments(path: str) -> list[str]:
    return [segment for segment in path.split("/") if segment]


def _kind(segment: str) -> int:
    if segment.startswith("{") and segment.endswith("+}"):
        return GREEDY
    if segment.startswith("{") and segment.endswith("}"):
        return PARAMETER
    return LITERAL


def match_path(pattern: str, path: str) -> tuple[tuple[int, ...], dict[str, str]] | None:
    """Match a request path against a resource path: (specificity key, path parameters) or None."""
    wanted = _segments(pattern)
    given = [unquote(segment) for segment in _segments(path)]
    parameters: dict[str, str] = {}
    kinds: list[int] = []
    for index, segment in enumerate(wanted):
        kind = _kind(segment)
        kinds.append(kind)
        if kind == GREEDY:
            # {proxy+} must be last and takes at least one segment.
            if index != len(wanted) - 1 or index >= len(given):
                return None
            parameters[segment[1:-2]] = "/".join(given[index:])
            return tuple(kinds), parameters
        if index >= len(given):
            return None
        if kind == PARAMETER:
            parameters[segment[1:-1]] = given[index]
        elif segment != given[index]:
            return None
    if len(given) != len(wanted):
        return None
    return tuple(kinds), parameters


class RouteTable:
    """The API's routes, resolved per request as API Gateway does."""

    def __init__(self, routes: Iterable[Route]) -> None:
        self.routes = list(routes)

    def match(self, method: str, path: str) -> RouteMatch | None:
        """The most specific route for a request, or None (API Gateway's Missing Authentication Token)."""
        best: tuple[tuple[tuple[int, ...], int], RouteMatch] | None = None
        method = method.upper()
        for route in self.routes:
            if route.method not in (method, "ANY"):
                continue
            matched = match_path(route.path, path)
            if matched is None:
                continue
            specificity, parameters = matched
            # Lower is more specific: path segments first, left to right; an exact method beats ANY.
            key = (specificity, 0 if route.method == method else 1)
            if best is None or key < best[0]:
                best = (key, RouteMatch(route, parameters))
        return best[1] if best else None
