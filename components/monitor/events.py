"""The quality-drop event, which starts llm-twin-ct (its `quality-drop` trigger) and reaches a
person through the alert route for it (definitions/alerts.yaml); and the guardrail alert, which
only reaches a person (the `guardrail-jump` route).

In AWS: EventBridge PutEvents on the default bus (or $EVENT_BUS_NAME). Locally (the executor
sets SM_PIPELINES_LOCAL_STATE): the same envelope EventBridge would deliver, appended to
<state>/events.jsonl beside the executor's own events.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from components.common.contract import STATE_VARIABLE
from components.common.job import JobError

# Exactly what llm-twin-ct's quality-drop trigger and the alert route match.
SOURCE = "llm-twin.monitoring"
DETAIL_TYPE = "LLM Twin Quality Drop"
# A jump of a guardrail's hit rate: the guardrail-jump alert route matches it, no trigger does.
GUARDRAIL_DETAIL_TYPE = "LLM Twin Guardrail Alert"
LOCAL_ACCOUNT = "000000000000"


def envelope(
    detail: dict[str, Any], region: str, account: str, detail_type: str = DETAIL_TYPE
) -> dict[str, Any]:
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": detail_type,
        "source": SOURCE,
        "account": account,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [],
        "detail": detail,
    }


def emit(
    detail: dict[str, Any],
    env: Mapping[str, str] | None = None,
    detail_type: str = DETAIL_TYPE,
) -> dict[str, str]:
    """Send the event; where it went and its id. Raises JobError when it could not be sent: a
    drop nobody hears about is worse than a failed monitoring run (which alerts by itself)."""
    env = os.environ if env is None else env
    region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1"
    state = env.get(STATE_VARIABLE, "").strip()
    if state:
        event = envelope(detail, region, LOCAL_ACCOUNT, detail_type)
        path = Path(state) / "events.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(event, sort_keys=True) + "\n")
        return {"destination": str(path), "id": event["id"]}
    bus = env.get("EVENT_BUS_NAME", "").strip() or "default"
    return _put_event(detail, region, bus, detail_type)


def _put_event(detail: dict[str, Any], region: str, bus: str, detail_type: str) -> dict[str, str]:
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        response = boto3.client("events", region_name=region).put_events(
            Entries=[
                {
                    "Source": SOURCE,
                    "DetailType": detail_type,
                    "Detail": json.dumps(detail, sort_keys=True),
                    "EventBusName": bus,
                }
            ]
        )
    except (BotoCoreError, ClientError) as exc:
        raise JobError(f"cannot send the {detail_type!r} event to EventBridge: {exc}") from None
    entry = (response.get("Entries") or [{}])[0]
    if response.get("FailedEntryCount") or "EventId" not in entry:
        raise JobError(
            f"EventBridge refused the {detail_type!r} event: "
            f"{entry.get('ErrorCode', '?')}: {entry.get('ErrorMessage', '')}"
        )
    return {"destination": f"EventBridge bus {bus} ({region})", "id": entry["EventId"]}
