"""What every module of the template shares: a resource's shape, logical ids, retention."""

from __future__ import annotations

import hashlib
import re
from typing import Any

Resource = dict[str, Any]


def logical_id(prefix: str, name: str, taken: set[str] | None = None) -> str:
    """A CloudFormation logical id (alphanumeric) for `name`: `llm-twin/staging/mongodb` under
    `Secret` is `SecretLlmTwinStagingMongodb`. Two names that spell the same id (`a-b`, `a/b`)
    are told apart by a hash of the name, never silently merged."""
    words = re.split(r"[^A-Za-z0-9]+", name)
    candidate = prefix + "".join(w[:1].upper() + w[1:] for w in words if w)
    if taken is not None and candidate in taken:
        candidate += hashlib.sha256(name.encode()).hexdigest()[:8]
    if taken is not None:
        taken.add(candidate)
    return candidate


def retained(resource: Resource) -> Resource:
    """Deleting the stack, or replacing the resource, keeps it (and what it holds) in the
    account. cfn-lint asks for both policies (W3011): one alone still loses data."""
    return {**resource, "DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"}
