"""Validate a template with cfn-lint (its Python API), offline, before CloudFormation sees it.

cfn-lint comes with the `bootstrap` extra (pinned: a newer cfn-lint adds rules and resource
schemas, which could fail a template that passed; bump it on purpose and rerun the tests).
Every finding fails, warnings included: a template that CloudFormation would take but that
cfn-lint doubts is not shipped.
"""

from __future__ import annotations

from sm_pipelines.errors import UserError

MAX_REPORTED = 10
# cfn-lint lists every allowed value when one is wrong (hundreds of IAM actions): cut there.
MESSAGE_MAX_CHARS = 300


def findings(body: str, region: str) -> list[str]:
    """One line per cfn-lint finding on the template text `body`, checked for `region`:
    `<rule> <path>: <message>`; empty when the template is clean."""
    try:
        from cfnlint.api import lint
    except ImportError:
        raise UserError(
            "cfn-lint is not installed: bootstrap validates its template with it; install "
            "sm-pipelines[bootstrap] (`make setup` does)"
        ) from None
    lines = []
    for match in lint(body, regions=[region]):
        path = "/".join(str(part) for part in getattr(match, "path", None) or [])
        where = path or f"line {match.linenumber}"
        message = " ".join(str(match.message).split())
        if len(message) > MESSAGE_MAX_CHARS:
            message = message[: MESSAGE_MAX_CHARS - 3] + "..."
        lines.append(f"{match.rule.id} {where}: {message}")
    return lines


def check(body: str, region: str, what: str) -> None:
    """Raise one line per finding (the first MAX_REPORTED), each naming `what` and the place."""
    found = findings(body, region)
    if not found:
        return
    lines = [f"{what}: cfn-lint {line}" for line in found[:MAX_REPORTED]]
    if len(found) > MAX_REPORTED:
        lines.append(f"{what}: {len(found) - MAX_REPORTED} more cfn-lint finding(s)")
    raise UserError("\n".join(lines))
