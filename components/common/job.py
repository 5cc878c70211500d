"""How a model job ends: a bad input is one clear line and a non-zero exit, never a traceback.

The local executor and SageMaker both report a failed job by its last line of output (and, for
training jobs, by /opt/ml/output/failure), so that line must say what was wrong.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable

from components.common.contract import ml_root


class JobError(Exception):
    """A problem with the job's inputs or environment that the user can fix."""


def _record_failure(message: str) -> None:
    # SageMaker copies this file into the training job's FailureReason.
    try:
        failure = ml_root() / "output" / "failure"
        failure.parent.mkdir(parents=True, exist_ok=True)
        failure.write_text(message + "\n", encoding="utf-8")
    except OSError:
        pass


def run_job(prog: str, main: Callable[[], int]) -> int:
    """Run `main`; turn JobError into `prog: message` on stderr and exit code 1."""
    try:
        return main()
    except JobError as exc:
        # One line whatever the cause said: the last line is what the executor reports.
        message = f"{prog}: {' '.join(str(exc).split())}"
    except KeyboardInterrupt:
        message = f"{prog}: interrupted"
    except Exception as exc:
        # Unexpected: keep the traceback for whoever debugs it, but end on one readable line.
        traceback.print_exc()
        message = f"{prog}: internal error: {type(exc).__name__}: {exc}".splitlines()[0]
    print(message, file=sys.stderr, flush=True)
    _record_failure(message)
    return 1
