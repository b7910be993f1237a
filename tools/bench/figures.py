"""What every benchmark module returns: one figure per target, printed next to its goal."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Figure:
    """A measured figure; ``goal`` None means reported only (sizes, throughput)."""

    target: str
    value: float
    goal: float | None = None
    unit: str = "x"
    higher_is_better: bool = False
    detail: str = ""

    @property
    def met(self) -> bool:
        if self.goal is None:
            return True
        return self.value >= self.goal if self.higher_is_better else self.value <= self.goal

    def line(self) -> str:
        goal = "" if self.goal is None else f"  goal {'≥' if self.higher_is_better else '≤'} {self.goal:g}{self.unit}"
        verdict = "" if self.goal is None else ("  ok" if self.met else "  MISSED")
        detail = f"  ({self.detail})" if self.detail else ""
        return f"{self.target:<40} {self.value:10.2f}{self.unit}{goal}{verdict}{detail}"
