"""`depends_on` without data edges: Second waits for First, Third waits for Second (named by
its step name as a string), while Aside (no dependency) may run beside them (`--parallel 2`).
Checks: the start and end times in the execution record follow the declared order, and every
step ran once."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sagemaker.workflow.pipeline import Pipeline

from tests.corpus._kit import Run, mark_step, pipeline


def build(session: Any) -> Pipeline:
    first = mark_step(session, "First")
    second = mark_step(session, "Second", depends_on=[first])
    third = mark_step(session, "Third", depends_on=["Second"])
    aside = mark_step(session, "Aside")
    # Listed backwards: the order comes from DependsOn, not from the list.
    return pipeline(session, [third, aside, second, first])


def expect(run: Run) -> None:
    assert run.code == 0, run.why()

    def at(name: str, edge: str) -> datetime:
        return datetime.fromisoformat(getattr(run.step(name), edge))

    assert at("Second", "start") >= at("First", "end")
    assert at("Third", "start") >= at("Second", "end")
    for name in ("First", "Second", "Third", "Aside"):
        assert run.ran(name) and run.step(name).attempts == 1, name
