"""Target 6: the size of each artifact `sam build` produced, and a budget for the project's own layer.

Sizes are of the files as deployed (unzipped, which Lambda's 250 MB limit counts) and of the zip Lambda
downloads at a cold start (deflated in memory here, as `sam deploy` uploads it). The layer must not carry
what the runtime (boto3) or AWS's public Powertools layer (Powertools, pydantic) already provide.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from bench.figures import Figure

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / ".aws-sam" / "build"
LAYER = "DomainLayer"
# requests, email-validator, uuid6 and our package, each module with its python3.13 bytecode: about 1.6 MB.
LAYER_ZIP_BUDGET_KB = 2048
PROVIDED_ELSEWHERE = ("boto3", "botocore", "s3transfer", "pydantic", "pydantic_core", "aws_lambda_powertools")


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


def sizes(folder: Path) -> tuple[float, float]:
    """(unzipped KB, zipped KB) of ``folder``'s files, bytecode included (the layer ships it)."""
    files = _files(folder)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in files:
            archive.write(path, path.relative_to(folder))
    return sum(p.stat().st_size for p in files) / 1024, len(buffer.getvalue()) / 1024


def measure() -> list[Figure]:
    if not (BUILD / LAYER).is_dir():
        raise RuntimeError(f"nothing built in {BUILD}: run `make build` (make bench does)")
    figures = []
    for artifact in sorted(p for p in BUILD.iterdir() if p.is_dir()):
        unzipped, zipped = sizes(artifact)
        figures.append(Figure(f"package: {artifact.name}", unzipped, unit=" KB", detail=f"{zipped:.0f} KB zipped"))
    unzipped, zipped = sizes(BUILD / LAYER)
    provided = sorted(name for name in PROVIDED_ELSEWHERE if (BUILD / LAYER / "python" / name).exists())
    detail = f"holds {', '.join(provided)}, which the runtime or the Powertools layer provide" if provided else ""
    figures.append(
        Figure(
            f"package: {LAYER} zipped (budget)",
            float("inf") if provided else zipped,
            float(LAYER_ZIP_BUDGET_KB),
            unit=" KB",
            detail=detail or f"{unzipped:.0f} KB unzipped",
        )
    )
    return figures
