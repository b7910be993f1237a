"""`make bench`'s runner: one line per figure, and a failing exit when a goal is missed or a target is missing."""

from __future__ import annotations

import sys
import types

import pytest
from bench import __main__ as runner
from bench.figures import Figure


def _target(monkeypatch: pytest.MonkeyPatch, name: str, *figures: Figure) -> None:
    module = types.ModuleType(f"bench.{name}")
    module.measure = lambda: list(figures)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, f"bench.{name}", module)


@pytest.fixture(autouse=True)
def _targets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runner, "TARGETS", ("met", "missed", "absent"))
    _target(monkeypatch, "met", Figure("fast enough", 1.1, 1.2), Figure("layer size", 12.0, unit=" KB"))
    _target(monkeypatch, "missed", Figure("too slow", 1.5, 1.2))


def test_met_goals_pass_and_print_one_line_each(capsys: pytest.CaptureFixture[str]) -> None:
    assert runner.main(["--only", "met"]) == 0
    out = capsys.readouterr().out
    assert "ratios hold" in out.lower()
    assert "fast enough" in out and "goal ≤ 1.2x  ok" in out
    size_line = next(line for line in out.splitlines() if line.startswith("layer size"))
    assert "12.00 KB" in size_line and "goal" not in size_line


def test_a_missed_goal_fails_the_run(capsys: pytest.CaptureFixture[str]) -> None:
    assert runner.main(["--only", "met,missed"]) == 1
    assert "too slow" in capsys.readouterr().out.split("MISSED")[0]


def test_a_missing_target_module_is_reported_and_fails_the_run(capsys: pytest.CaptureFixture[str]) -> None:
    assert runner.main(["--only", "met,absent"]) == 1
    assert "absent" in capsys.readouterr().out.split("not measured: no module bench.absent")[0]


def test_unknown_targets_are_refused() -> None:
    with pytest.raises(SystemExit) as exit_info:
        runner.main(["--only", "nope"])
    assert exit_info.value.code == 2


def test_higher_is_better_figures_compare_the_other_way() -> None:
    assert Figure("rate", 10.0, 5.0, higher_is_better=True).met
    assert not Figure("rate", 4.0, 5.0, higher_is_better=True).met
