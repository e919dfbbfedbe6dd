"""The small error hierarchy of hpcmicro.

Every error a user can cause is an :class:`HpcmicroError`; the command line
prints its message (no traceback) and exits with :attr:`exit_code`.  Messages
say what was given, what was needed and what to do.
"""

from __future__ import annotations

#: Exit status of a job stopped early (signal or drain) that ``--resume`` can finish.
EXIT_RESUMABLE = 75
#: Exit status when the job finished but some tasks failed.
EXIT_TASKS_FAILED = 3
#: Exit status for bad input or configuration.
EXIT_USAGE = 2


class HpcmicroError(Exception):
    """Base of all errors that hpcmicro reports to users without a traceback."""

    exit_code = 1


class ConfigError(HpcmicroError):
    """A job file or command-line setting is invalid.

    Parameters
    ----------
    message
        What was wrong and what to do instead.
    key
        ``"section.key"`` at fault, if any; the config loader adds the file
        and line where that key was written.
    """

    exit_code = EXIT_USAGE

    def __init__(self, message: str, key: str | None = None,
                 path: str | None = None, line: int | None = None):
        self.message, self.key, self.path, self.line = message, key, path, line
        super().__init__(message)

    def __str__(self) -> str:
        where = ""
        if self.path:
            where = f"{self.path}:{self.line}: " if self.line else f"{self.path}: "
        key = f"[{self.key}] " if self.key else ""
        return f"{where}{key}{self.message}"


class InputError(HpcmicroError):
    """An input data file (FASTA, netCDF, ...) is malformed.

    Parameters
    ----------
    message
        What was wrong and what to do instead.
    path, line
        The file and 1-based line where the problem is.
    """

    exit_code = EXIT_USAGE

    def __init__(self, message: str, path: str | None = None, line: int | None = None):
        self.message, self.path, self.line = message, path, line
        super().__init__(message)

    def __str__(self) -> str:
        if self.path and self.line:
            return f"{self.path}:{self.line}: {self.message}"
        if self.path:
            return f"{self.path}: {self.message}"
        return self.message


class OutputError(HpcmicroError):
    """The output file cannot be created, resumed or locked."""

    exit_code = EXIT_USAGE


class TaskError(HpcmicroError):
    """A task raised; carries its id, the rank and the original traceback."""

    def __init__(self, task_id: int, rank: int, tb: str):
        self.task_id, self.rank, self.tb = task_id, rank, tb
        super().__init__(f"task {task_id} failed on rank {rank}:\n{tb}")
