"""User-facing errors: each renders as one line that names where the mistake is."""

from __future__ import annotations

from pathlib import Path

# Exit codes the CLI uses; tests and CI scripts rely on them.
EXIT_USER_ERROR = 2
# The environment failed the command: AWS, a full or read-only disk, or a bug of ours.
EXIT_AWS_ERROR = 3
EXIT_ENVIRONMENT = 3
EXIT_STALE = 1
EXIT_INTERRUPTED = 130


class UserError(Exception):
    """A mistake the user can fix; the CLI prints it as one line, never a traceback."""

    exit_code = EXIT_USER_ERROR


class DefinitionError(UserError):
    """A problem in a definitions/ file, located by file, line and field path."""

    def __init__(
        self,
        file: Path | str,
        message: str,
        field: str = "",
        line: int | None = None,
    ) -> None:
        self.file = str(file)
        self.field = field
        self.line = line
        self.message = message
        super().__init__(self.render())

    def render(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return (
            f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        )


class AwsError(UserError):
    """An AWS call failed; the message names the resource and the service's reason."""

    exit_code = EXIT_AWS_ERROR
