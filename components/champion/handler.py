"""Lambda handler: who is the champion the candidate must beat, and is the candidate it already?

Evaluation takes the champion's ARN as an argument, so SageMaker's step cache reuses an
evaluation exactly while neither the candidate nor the champion changed. When the candidate's
artifacts are the champion's own (a re-run on unchanged data hits the training cache), the
pipeline has nothing to evaluate, register or deploy, and its condition skips those steps.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from components.common import model_registry

NO_CHAMPION = "none"
LOG = logging.getLogger(__name__)


def handle(event: dict[str, Any], context: Any) -> dict[str, str]:
    group = event.get("model_package_group")
    candidate = event.get("candidate_model_data")
    if not group or not candidate:
        raise ValueError("the champion lookup needs model_package_group and candidate_model_data")
    # Under the local executor the context names its state folder; in AWS it does not.
    package = model_registry.champion(group, getattr(context, "local_state", None))
    champion = package.arn if package else NO_CHAMPION
    same = package is not None and package.model_data_url == candidate
    LOG.info("champion %s; the candidate is it: %s", champion, same)
    return {
        "champion": champion,
        "champion_version": str(package.version) if package else "0",
        "candidate_is_champion": "true" if same else "false",
        "evaluation_key": evaluation_key(candidate, champion),
    }


def evaluation_key(candidate: str, champion: str) -> str:
    """Where the evaluation of this candidate against this champion is written: the same pair
    always lands on the same key (so the evaluation step's arguments repeat and its cache hits),
    and a report an earlier version was registered with is never overwritten by another pair."""
    return hashlib.sha256(f"{candidate}\n{champion}".encode()).hexdigest()[:20]
