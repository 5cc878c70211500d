"""What every route needs from the app: the source it reads and the actions it starts."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from sm_pipelines.ui.actions import Actions
from sm_pipelines.ui.source import ViewSource


def _source(request: Request) -> ViewSource:
    return request.app.state.source


def _actions(request: Request) -> Actions:
    return request.app.state.actions


Source = Annotated[ViewSource, Depends(_source)]
Commands = Annotated[Actions, Depends(_actions)]
