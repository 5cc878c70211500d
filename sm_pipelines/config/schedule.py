"""EventBridge schedule expressions: cron(6 fields) and rate(N unit), checked as AWS checks them."""

from __future__ import annotations

import re

_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_CRON = re.compile(r"^cron\((.+)\)$")
_MONTHS = "JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC"
_DAYS = "SUN|MON|TUE|WED|THU|FRI|SAT"
_FIELDS = (
    ("minutes", 0, 59, ""),
    ("hours", 0, 23, ""),
    ("day-of-month", 1, 31, "LW?"),
    ("month", 1, 12, _MONTHS),
    ("day-of-week", 1, 7, _DAYS + "|L|#|\\?"),
    ("year", 1970, 2199, ""),
)


def _check_cron_field(text: str, name: str, low: int, high: int, names: str) -> str | None:
    if text in ("*",) or (text == "?" and name in ("day-of-month", "day-of-week")):
        return None
    for part in text.split(","):
        token = part
        if "/" in token:
            token, step = token.split("/", 1)
            if not step.isdigit() or int(step) == 0:
                return f"{name} step {step!r} is not a positive number"
            if token == "*":
                continue
        if name == "day-of-month" and re.fullmatch(r"(L|LW|\d{1,2}W)", token):
            continue
        if name == "day-of-week" and re.fullmatch(rf"(\d|{_DAYS})(L|#[1-5])?", token):
            token = re.sub(r"(L|#[1-5])$", "", token)
        for bound in token.split("-", 1):
            if bound.isdigit():
                if not low <= int(bound) <= high:
                    return f"{name} value {bound} is outside {low}-{high}"
            elif not (names and re.fullmatch(names, bound.upper())):
                return f"{name} value {bound!r} is not valid"
    return None


def schedule_problem(expression: str) -> str | None:
    """Return why `expression` is not a valid EventBridge schedule, or None when it is."""
    rate = _RATE.match(expression)
    if rate:
        amount, unit = int(rate.group(1)), rate.group(2)
        if amount == 0:
            return "rate must be at least 1"
        if (amount == 1) != (not unit.endswith("s")):
            return f"use '{unit.rstrip('s')}' for 1 and '{unit.rstrip('s')}s' otherwise"
        return None
    cron = _CRON.match(expression)
    if not cron:
        return "expected 'cron(min hour day-of-month month day-of-week year)' or 'rate(N unit)'"
    fields = cron.group(1).split()
    if len(fields) != 6:
        return (
            f"cron needs 6 fields (min hour day-of-month month day-of-week year), got {len(fields)}"
        )
    for text, (name, low, high, names) in zip(fields, _FIELDS, strict=True):
        problem = _check_cron_field(text, name, low, high, names)
        if problem:
            return problem
    if (fields[2] == "?") == (fields[4] == "?"):
        return "exactly one of day-of-month and day-of-week must be '?'"
    return None
