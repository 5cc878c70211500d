"""Lambda handler: who is the champion the candidate must beat, and is the candidate it already?

Evaluation takes the champion's ARN as an argument, so SageMaker's step cache reuses an
evaluation exactly while neither the candidate nor the champion changed. When the candidate's
artifacts are the champion's own (a re-run on unchanged data hits the training cache), the
pipeline has nothing to evaluate, register or deploy, and its condition skips those steps.
"""

from __future__ import annotations

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
    if package is None:
        LOG.info("%s has no Approved version yet", group)
        return {"champion": NO_CHAMPION, "champion_version": "0", "candidate_is_champion": "false"}
    same = package.model_data_url == candidate
    LOG.info("champion v%s (%s); candidate is it: %s", package.version, package.arn, same)
    return {
        "champion": package.arn,
        "champion_version": str(package.version),
        "candidate_is_champion": "true" if same else "false",
    }
