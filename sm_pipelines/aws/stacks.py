"""One CloudFormation stack, changed only through change sets: make one, read what it would do,
execute it, wait for the stack to settle; and delete a stack.

Facts this relies on (AWS, and moto 5.2 where it differs):
- A change set for a stack that does not exist is of type CREATE and leaves the stack in
  REVIEW_IN_PROGRESS until it is executed; a stack still in that state takes another CREATE.
- A template and tags identical to the deployed ones make a change set that FAILs with "The
  submitted information didn't contain changes..." (older answers: "No updates are to be
  performed."); that is "nothing changes", and the empty change set is deleted.
- A stack whose creation failed is ROLLBACK_COMPLETE (or ROLLBACK_FAILED) and can only be
  deleted; UPDATE_ROLLBACK_FAILED needs `continue-update-rollback`.
- moto answers every call at once (change sets are CREATE_COMPLETE and stacks *_COMPLETE when
  the call returns), gives no `Replacement` for Modify, has no failed states of its own, and
  gives a stack made through change sets no Outputs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from sm_pipelines.aws.clients import aws_errors
from sm_pipelines.errors import AwsError

# How often to ask, and for how long, while CloudFormation works (tests shorten them).
POLL_S = 5.0
TIMEOUT_S = 3600.0
NO_CHANGES = ("didn't contain changes", "No updates are to be performed")
# Settled states a stack can be changed from.
UPDATABLE = frozenset(
    {
        "CREATE_COMPLETE",
        "UPDATE_COMPLETE",
        "UPDATE_ROLLBACK_COMPLETE",
        "IMPORT_COMPLETE",
        "IMPORT_ROLLBACK_COMPLETE",
    }
)
# Settled states a stack cannot be changed from, with what the user does about each.
STUCK = {
    "ROLLBACK_COMPLETE": "its creation failed and was rolled back; delete it "
    "(aws cloudformation delete-stack --stack-name {name}) and run bootstrap again",
    "ROLLBACK_FAILED": "its creation failed and so did the rollback; delete it "
    "(aws cloudformation delete-stack --stack-name {name}) and run bootstrap again",
    "CREATE_FAILED": "its creation failed; delete it "
    "(aws cloudformation delete-stack --stack-name {name}) and run bootstrap again",
    "UPDATE_ROLLBACK_FAILED": "an update failed and so did its rollback; run "
    "`aws cloudformation continue-update-rollback --stack-name {name}`, then bootstrap again",
    "DELETE_FAILED": "a deletion failed; delete it again or fix what blocks it, then bootstrap",
}


@dataclass(frozen=True)
class ResourceChange:
    """One line of a change set: what happens to one resource."""

    action: str  # Add, Modify, Remove, Import, Dynamic
    logical_id: str
    resource_type: str
    replacement: str = ""  # True, False, Conditional (Modify only; moto gives none)

    def line(self) -> str:
        replacement = f"  replacement: {self.replacement}" if self.replacement else ""
        return f"{self.action:<7} {self.logical_id:<32} {self.resource_type}{replacement}"


@dataclass(frozen=True)
class ChangeSet:
    id: str
    name: str
    kind: str  # CREATE or UPDATE
    changes: list[ResourceChange]


def stack(cfn: Any, name: str) -> dict[str, Any] | None:
    """The stack as DescribeStacks tells it, or None when there is none."""
    from botocore.exceptions import ClientError

    with aws_errors(f"cloudformation describe_stacks {name}"):
        try:
            stacks = cfn.describe_stacks(StackName=name).get("Stacks", [])
        except ClientError as exc:
            if "does not exist" in str(exc.response.get("Error", {}).get("Message", "")):
                return None
            raise
    return stacks[0] if stacks else None


def change_type(name: str, described: dict[str, Any] | None) -> str:
    """CREATE or UPDATE for a stack in this state, or a one-line AwsError saying what to do."""
    if described is None or described["StackStatus"] == "REVIEW_IN_PROGRESS":
        return "CREATE"
    status = described["StackStatus"]
    if status in UPDATABLE:
        return "UPDATE"
    reason = described.get("StackStatusReason")
    because = f" ({reason})" if reason else ""
    if status.endswith("_IN_PROGRESS"):
        raise AwsError(
            f"stack {name} is {status}{because}: another operation is running; wait for it "
            "and run bootstrap again"
        )
    advice = STUCK.get(status, "it cannot be updated").format(name=name)
    raise AwsError(f"stack {name} is {status}{because}: {advice}")


def _wait(describe: Any, busy: Any, what: str) -> dict[str, Any]:
    deadline = time.monotonic() + TIMEOUT_S
    while True:
        described = describe()
        if not busy(described):
            return described
        if time.monotonic() > deadline:
            raise AwsError(
                f"{what}: still {described.get('Status') or described.get('StackStatus')}"
                f" after {TIMEOUT_S:.0f} s"
            )
        time.sleep(POLL_S)


def _changes(cfn: Any, change_set_id: str, first: dict[str, Any]) -> list[ResourceChange]:
    found = []
    page = first
    while True:
        for change in page.get("Changes", []):
            resource = change.get("ResourceChange", {})
            found.append(
                ResourceChange(
                    resource.get("Action", "?"),
                    resource.get("LogicalResourceId", "?"),
                    resource.get("ResourceType", "?"),
                    str(resource.get("Replacement", "")),
                )
            )
        token = page.get("NextToken")
        if not token:
            return found
        page = cfn.describe_change_set(ChangeSetName=change_set_id, NextToken=token)


def create_change_set(
    cfn: Any,
    name: str,
    change_set_name: str,
    kind: str,
    body: str,
    tags: dict[str, str],
    description: str,
) -> ChangeSet | None:
    """Make a change set and wait until CloudFormation has worked out what it does; None when
    nothing changes (the empty change set is deleted)."""
    action = f"cloudformation change set {change_set_name} of stack {name}"
    with aws_errors(action):
        made = cfn.create_change_set(
            StackName=name,
            ChangeSetName=change_set_name,
            ChangeSetType=kind,
            TemplateBody=body,
            # The roles have names (they are named in the policies and the environment).
            Capabilities=["CAPABILITY_NAMED_IAM"],
            Tags=[{"Key": k, "Value": v} for k, v in sorted(tags.items())],
            Description=description,
        )
        change_set_id = made["Id"]
        described = _wait(
            lambda: cfn.describe_change_set(ChangeSetName=change_set_id, StackName=name),
            lambda d: d.get("Status") in ("CREATE_PENDING", "CREATE_IN_PROGRESS"),
            action,
        )
        if described.get("Status") == "FAILED":
            reason = " ".join(str(described.get("StatusReason", "")).split())
            if any(marker in reason for marker in NO_CHANGES):
                cfn.delete_change_set(ChangeSetName=change_set_id, StackName=name)
                return None
            raise AwsError(f"{action}: FAILED: {reason or 'no reason given'}")
        return ChangeSet(
            change_set_id, change_set_name, kind, _changes(cfn, change_set_id, described)
        )


def first_failure(cfn: Any, name: str) -> str:
    """The earliest failed resource of the latest operation on the stack, as `<id> (<type>)
    <status>: <reason>`; empty when the events name none."""
    with aws_errors(f"cloudformation describe_stack_events {name}"):
        events = cfn.describe_stack_events(StackName=name).get("StackEvents", [])
    failed = ""
    for event in events:  # newest first
        if event.get("LogicalResourceId") == name and event.get("ResourceStatus") in (
            "CREATE_IN_PROGRESS",
            "UPDATE_IN_PROGRESS",
            "DELETE_IN_PROGRESS",
        ):
            break  # where the latest operation started
        status = event.get("ResourceStatus", "")
        reason = " ".join(str(event.get("ResourceStatusReason") or "").split())
        if status.endswith("_FAILED") and reason and event.get("LogicalResourceId") != name:
            failed = (
                f"{event['LogicalResourceId']} ({event.get('ResourceType')}) {status}: {reason}"
            )
    return failed


def execute(cfn: Any, name: str, change_set: ChangeSet) -> str:
    """Execute the change set and wait for the stack to settle; its final status, or a one-line
    AwsError naming the stack and the first resource that failed."""
    action = f"cloudformation execute_change_set {change_set.name} of stack {name}"
    with aws_errors(action):
        cfn.execute_change_set(ChangeSetName=change_set.id, StackName=name)
        described = _wait(
            lambda: cfn.describe_stacks(StackName=name)["Stacks"][0],
            lambda d: d["StackStatus"].endswith("_IN_PROGRESS"),
            f"stack {name}",
        )
    status = described["StackStatus"]
    if status in ("CREATE_COMPLETE", "UPDATE_COMPLETE"):
        return status
    failure = first_failure(cfn, name) or described.get("StackStatusReason") or "no reason given"
    raise AwsError(f"stack {name} is {status}: {failure}")


def outputs(cfn: Any, name: str) -> dict[str, str]:
    described = stack(cfn, name) or {}
    return {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}


def delete(cfn: Any, name: str) -> bool:
    """Delete the stack and wait until it is gone; False when there was none. Resources with
    DeletionPolicy Retain stay in the account."""
    described = stack(cfn, name)
    if described is None:
        return False
    action = f"cloudformation delete_stack {name}"
    with aws_errors(action):
        cfn.delete_stack(StackName=name)
        stack_id = described["StackId"]  # a deleted stack is found by id only
        final = _wait(
            lambda: cfn.describe_stacks(StackName=stack_id)["Stacks"][0],
            lambda d: d["StackStatus"].endswith("_IN_PROGRESS"),
            f"stack {name}",
        )
    if final["StackStatus"] != "DELETE_COMPLETE":
        failure = first_failure(cfn, name) or final.get("StackStatusReason") or "no reason given"
        raise AwsError(f"stack {name} is {final['StackStatus']}: {failure}")
    return True
