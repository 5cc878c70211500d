"""EventBridge rules and their targets: create, update, leave, or delete what is no longer
declared (found by its tags)."""

from __future__ import annotations

import json
from typing import Any

from sm_pipelines.aws.changes import Change
from sm_pipelines.aws.clients import aws_errors, is_not_found
from sm_pipelines.aws.tags import as_list, is_managed
from sm_pipelines.config.environment import EnvironmentConfig
from sm_pipelines.events.rules import Rule


def _canonical_pattern(text: str | None) -> str | None:
    return None if text is None else json.dumps(json.loads(text), sort_keys=True)


def _canonical_targets(targets: list[dict[str, Any]]) -> str:
    return json.dumps(sorted(targets, key=lambda t: t["Id"]), sort_keys=True)


def managed_rules(events: Any, env: EnvironmentConfig) -> dict[str, str]:
    """Name -> ARN of the rules sm-pipelines made for this environment."""
    found = {}
    with aws_errors("events list_rules"):
        for page in events.get_paginator("list_rules").paginate():
            for rule in page.get("Rules", []):
                tags = events.list_tags_for_resource(ResourceARN=rule["Arn"]).get("Tags", [])
                if is_managed({t["Key"]: t["Value"] for t in tags}, env):
                    found[rule["Name"]] = rule["Arn"]
    return found


def _describe(events: Any, name: str) -> dict[str, Any] | None:
    with aws_errors(f"events describe_rule {name}"):
        try:
            return events.describe_rule(Name=name)
        except Exception as exc:
            if is_not_found(exc):
                return None
            raise


def delete_rule(events: Any, name: str) -> None:
    with aws_errors(f"events delete_rule {name}"):
        targets = events.list_targets_by_rule(Rule=name).get("Targets", [])
        if targets:
            events.remove_targets(Rule=name, Ids=[t["Id"] for t in targets])
        events.delete_rule(Name=name)


def apply_rules(
    events: Any, rules: list[Rule], env: EnvironmentConfig, tags: dict[str, str]
) -> list[Change]:
    changes = []
    for rule in rules:
        arguments: dict[str, Any] = {
            "Name": rule.name,
            "Description": rule.description,
            "State": "ENABLED" if rule.enabled else "DISABLED",
        }
        if rule.schedule:
            arguments["ScheduleExpression"] = rule.schedule
        else:
            arguments["EventPattern"] = rule.pattern_json
        targets = [target.to_aws() for target in rule.targets]
        current = _describe(events, rule.name)
        with aws_errors(f"events put_rule {rule.name}"):
            if current is None:
                events.put_rule(**arguments, Tags=as_list(tags))
                events.put_targets(Rule=rule.name, Targets=targets)
                changes.append(Change("rule", rule.name, "created"))
                continue
            existing = events.list_targets_by_rule(Rule=rule.name).get("Targets", [])
            differences = [
                key
                for key, same in (
                    ("schedule", current.get("ScheduleExpression") == rule.schedule),
                    (
                        "pattern",
                        _canonical_pattern(current.get("EventPattern")) == rule.pattern_json,
                    ),
                    ("state", current.get("State") == arguments["State"]),
                    ("description", current.get("Description", "") == rule.description),
                    ("targets", _canonical_targets(existing) == _canonical_targets(targets)),
                )
                if not same
            ]
            if not differences:
                changes.append(Change("rule", rule.name, "unchanged"))
                continue
            events.put_rule(**arguments)
            events.tag_resource(ResourceARN=current["Arn"], Tags=as_list(tags))
            stale = {t["Id"] for t in existing} - {t["Id"] for t in targets}
            if stale:
                events.remove_targets(Rule=rule.name, Ids=sorted(stale))
            events.put_targets(Rule=rule.name, Targets=targets)
            changes.append(Change("rule", rule.name, "updated", ", ".join(differences)))
    desired = {rule.name for rule in rules}
    for name in sorted(set(managed_rules(events, env)) - desired):
        delete_rule(events, name)
        changes.append(Change("rule", name, "deleted"))
    return changes
