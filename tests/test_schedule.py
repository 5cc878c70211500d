"""EventBridge schedule expressions, checked as EventBridge checks them."""

from __future__ import annotations

import pytest

from sm_pipelines.config.schedule import schedule_problem


@pytest.mark.parametrize(
    "expression",
    [
        "cron(0 2 * * ? *)",
        "cron(0/15 * ? * MON-FRI *)",
        "cron(30 8 1 * ? 2027)",
        "cron(0 12 ? * 6L *)",
        "cron(0 12 ? JAN,JUL 2#1 *)",
        "cron(0 0 L * ? *)",
        "cron(0 0 15W * ? *)",
        "rate(1 day)",
        "rate(12 hours)",
    ],
)
def test_valid_expressions(expression: str) -> None:
    assert schedule_problem(expression) is None


@pytest.mark.parametrize(
    ("expression", "problem"),
    [
        ("cron(0 2 * * *)", "cron needs 6 fields"),
        ("cron(0 2 * * * *)", "exactly one of day-of-month and day-of-week must be '?'"),
        ("cron(61 2 * * ? *)", "minutes value 61 is outside 0-59"),
        ("cron(0 24 * * ? *)", "hours value 24 is outside 0-23"),
        ("cron(0 2 ? FOO MON *)", "month value 'FOO' is not valid"),
        ("cron(0/0 2 * * ? *)", "minutes step '0' is not a positive number"),
        ("rate(1 days)", "use 'day' for 1 and 'days' otherwise"),
        ("rate(5 minute)", "use 'minute' for 1 and 'minutes' otherwise"),
        ("rate(0 hours)", "rate must be at least 1"),
        ("every day", "expected 'cron("),
    ],
)
def test_invalid_expressions(expression: str, problem: str) -> None:
    found = schedule_problem(expression)
    assert found is not None and found.startswith(problem), found
