"""README.md, docs/*.md, devstack's README: every relative link reaches a file, every #anchor a heading."""

from __future__ import annotations

import re
from collections import Counter
from itertools import pairwise
from pathlib import Path
from urllib.parse import unquote

import pytest
from markdown_it import MarkdownIt
from markdown_it.token import Token

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = sorted([ROOT / "README.md", ROOT / "tools/devstack/README.md", *(ROOT / "docs").glob("*.md")])
SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*:", re.IGNORECASE)  # http:, https:, mailto: … are not ours to check
# CommonMark with GitHub's tables: a link inside a code span or block is not a link, as on GitHub.
MARKDOWN = MarkdownIt("commonmark").enable("table")


def _tokens(document: Path) -> list[Token]:
    return MARKDOWN.parse(document.read_text(encoding="utf-8"))


def github_slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, each space a hyphen."""
    return re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")


def anchors(document: Path) -> set[str]:
    """Every heading's anchor in a Markdown file; a repeated heading gets -1, -2… as on GitHub."""
    seen: Counter[str] = Counter()
    found = set()
    tokens = _tokens(document)
    for opening, inline in pairwise(tokens):
        if opening.type != "heading_open":
            continue
        text = "".join(child.content for child in inline.children or [] if child.type in ("text", "code_inline"))
        slug = github_slug(text.strip())
        found.add(f"{slug}-{seen[slug]}" if seen[slug] else slug)
        seen[slug] += 1
    return found


def links(document: Path) -> list[str]:
    """The targets of a Markdown file's links and images, in order."""
    targets = []
    for token in _tokens(document):
        for child in token.children or []:
            target = child.attrs.get("href") if child.type == "link_open" else child.attrs.get("src")
            if child.type in ("link_open", "image") and isinstance(target, str):
                targets.append(target)
    return targets


def broken_links(document: Path) -> list[str]:
    """Each relative link of the document that reaches no file, or no heading of its target, with why."""
    broken = []
    for target in links(document):
        if SCHEME.match(target) or target.startswith("//"):
            continue
        path, _, anchor = target.partition("#")
        resolved = (document.parent / unquote(path)).resolve() if path else document
        if not resolved.exists():
            broken.append(f"{target}: no file {resolved.relative_to(ROOT, walk_up=True)}")
        elif anchor and resolved.suffix != ".md":
            broken.append(f"{target}: an anchor into a file that is not Markdown")
        elif anchor and unquote(anchor) not in anchors(resolved):
            broken.append(f"{target}: no heading with anchor #{anchor} in {resolved.name}")
    return broken


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda path: str(path.relative_to(ROOT)))
def test_every_relative_link_resolves(document: Path) -> None:
    assert broken_links(document) == []


def test_the_readme_fits_on_a_few_screens() -> None:
    # The README is the first five minutes (issue 15); everything else belongs in docs/, linked from it.
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 250, f"README.md has {len(lines)} lines; move a topic to docs/ and link it"


def test_every_docs_file_is_linked_from_the_readme() -> None:
    linked = {(ROOT / target.partition("#")[0]).resolve() for target in links(ROOT / "README.md")}
    assert [document.name for document in DOCUMENTS if document not in linked and document.name != "README.md"] == []


def test_the_slugs_are_githubs() -> None:
    # Headings (as text, code spans without their backticks) and the anchors GitHub shows for them.
    assert github_slug("The email sender: ses status") == "the-email-sender-ses-status"
    assert github_slug("Events in, deliveries out") == "events-in-deliveries-out"
    assert github_slug("Every attempt bounded: a deadline and an answer-size limit") == (
        "every-attempt-bounded-a-deadline-and-an-answer-size-limit"
    )
    assert github_slug("Cold start — how (2 runs)") == "cold-start--how-2-runs"
    assert github_slug("max_retries & jobs.py") == "max_retries--jobspy"


def test_a_broken_link_or_anchor_is_reported(tmp_path: Path) -> None:
    (tmp_path / "other.md").write_text("# Other\n\n## Twice\n\n## Twice\n", encoding="utf-8")
    document = tmp_path / "doc.md"
    document.write_text(
        "# The `doc`: here\n\n"
        "[fine](other.md#twice-1) [fine](#the-doc-here) [web](https://example.com/nowhere) `[code](missing.md)`\n\n"
        "[gone](missing.md) [no anchor](other.md#thrice) [not here](#nowhere) [too far](other.md#twice-2)\n",
        encoding="utf-8",
    )
    assert [problem.split(":")[0] for problem in broken_links(document)] == [
        "missing.md",
        "other.md#thrice",
        "#nowhere",
        "other.md#twice-2",
    ]
