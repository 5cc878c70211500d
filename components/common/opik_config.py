"""Opik's configuration as the Opik SDK itself resolves it, and the one line that says where
traces go.

The SDK's `opik.config.OpikConfig` reads, first found wins: values passed in, `OPIK_*`
variables, then the `[opik]` section of `~/.opik.config` (what `opik configure` writes; another
file with `OPIK_CONFIG_PATH`), then its defaults. The fields used here are `url_override`
(`OPIK_URL_OVERRIDE`), `workspace` (`OPIK_WORKSPACE`), `project_name` (`OPIK_PROJECT_NAME`),
`api_key` (`OPIK_API_KEY`) and `track_disable` (`OPIK_TRACK_DISABLE`). The one thing added on top:
in AWS the API key arrives as `OPIK_API_KEY_SECRET` (a Secrets Manager/SSM reference, see
settings.py), passed to the SDK as a value given in, as `opik.Opik(api_key=...)` would.

Opik counts as configured when a URL was set (variable or file) or an API key was (the SDK then
derives Comet's URL from the key). Otherwise nothing goes to the SDK's default server, which would
block every flush on retries: traces go to the local trace log instead, and `destination` says so
and why. A configuration the SDK itself calls wrong (Comet's URL without a key, a workspace
other than `default` on a localhost server) is refused in one line, from the SDK's public
`get_misconfiguration_detection_results`.

`track_disable` means what Opik documents: tracking (here: the RAG service's request traces) is
off. Everything else the SDK keeps working with it on (prompts, datasets, experiments, feedback
scores, search) keeps working here too. The API key is never printed.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_PROJECT = "llm-twin"
# (the SDK's field, its variable): the variables this project passes to the SDK as given values,
# so that a job handed an explicit environment mapping resolves from that mapping.
FIELDS = (
    ("url_override", "OPIK_URL_OVERRIDE"),
    ("workspace", "OPIK_WORKSPACE"),
    ("project_name", "OPIK_PROJECT_NAME"),
    ("track_disable", "OPIK_TRACK_DISABLE"),
)


class OpikConfigError(ValueError):
    """Opik's configuration is one the SDK would refuse or could not read: one line, no key."""


@dataclass(frozen=True)
class OpikSettings:
    url: str | None  # None: no Opik configured (the local trace log is used)
    workspace: str
    project: str
    track_disable: bool
    config_file: Path
    url_source: str  # where the URL came from, or why there is none
    api_key: str | None = field(default=None, repr=False)

    @property
    def configured(self) -> bool:
        return self.url is not None

    def describe(self) -> str:
        """Where Opik data goes, for a person: URL, workspace and project; never the key."""
        key = ", API key set" if self.api_key else ""
        return (
            f"Opik at {self.url} (workspace {self.workspace!r}, project {self.project!r}; "
            f"from {self.url_source}{key})"
        )


def prepare_opik() -> None:
    """Defaults to set before `import opik`: no error reports or usage analytics leave this
    process unless asked for, and no INFO chatter about project URLs in service logs."""
    os.environ.setdefault("OPIK_SENTRY_ENABLE", "false")
    os.environ.setdefault("OPIK_ANALYTICS_ENABLE", "false")
    os.environ.setdefault("OPIK_CONSOLE_LOGGING_LEVEL", "WARNING")


def _sdk_config(inputs: dict[str, Any]) -> Any:
    prepare_opik()
    try:
        from opik import config
    except ImportError:
        raise OpikConfigError(
            "the opik package is not installed in this environment (it reads Opik's configuration)"
        ) from None
    try:
        return config.OpikConfig(**inputs)
    except Exception as exc:
        first = (str(exc).strip().splitlines() or [""])[0]
        path = config.OpikConfig.model_construct().config_file_fullpath
        raise OpikConfigError(
            f"Opik configuration (variables, {path}) is not valid: {type(exc).__name__}: {first}"
        ) from None


def opik_settings(env: Mapping[str, str] | None = None) -> OpikSettings:
    """Opik's configuration through the SDK; OpikConfigError (one line) when it is wrong."""
    from components.common.settings import setting

    env = os.environ if env is None else env
    inputs: dict[str, Any] = {
        name: env[variable].strip() for name, variable in FIELDS if env.get(variable, "").strip()
    }
    try:
        key = setting("OPIK_API_KEY", env, required=False)
    except Exception as exc:
        raise OpikConfigError(str(exc)) from None
    if key:
        inputs["api_key"] = key
    resolved = _sdk_config(inputs)
    file = resolved.config_file_fullpath
    # An empty OPIK_URL_OVERRIDE (exported blank) names no server.
    explicit_url = "url_override" in resolved.model_fields_set and bool(
        str(resolved.url_override or "").strip()
    )
    if explicit_url:
        source = "OPIK_URL_OVERRIDE" if "url_override" in inputs else str(file)
    elif resolved.api_key:
        source = "the API key" if key else f"the API key in {file}"
    else:
        source = f"no Opik URL configured in {file} or OPIK_URL_OVERRIDE, and no OPIK_API_KEY"
    configured = explicit_url or bool(resolved.api_key)
    if configured:
        wrong, message = resolved.get_misconfiguration_detection_results()
        if wrong:
            first = (str(message or "").strip().splitlines() or ["misconfigured"])[0]
            raise OpikConfigError(f"Opik configuration ({source}): {first}")
    project = resolved.project_name if "project_name" in resolved.model_fields_set else None
    return OpikSettings(
        url=str(resolved.url_override) if configured else None,
        workspace=str(resolved.workspace),
        project=project or DEFAULT_PROJECT,
        track_disable=bool(resolved.track_disable),
        config_file=file,
        url_source=source,
        api_key=resolved.api_key or None,
    )


def opik_client(settings: OpikSettings) -> Any:
    """An Opik client with exactly the resolved settings (the SDK re-reads nothing else)."""
    prepare_opik()
    import opik

    return opik.Opik(
        project_name=settings.project,
        workspace=settings.workspace,
        host=settings.url,
        api_key=settings.api_key,
    )
