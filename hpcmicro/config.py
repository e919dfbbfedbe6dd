"""Job files: TOML, validated once into frozen dataclasses.

Layering, later wins: the job file, then environment variables
``HPCMICRO_<SECTION>_<KEY>`` (for example ``HPCMICRO_JOB_SCHEDULER=dynamic``),
then ``--set section.key=value`` on the command line.  Every error names the
file and line (or the variable or option) of the offending key, what was
given and what is allowed.  Nothing is read at import time.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
from pathlib import Path
from typing import Any

try:
    import tomllib
except ModuleNotFoundError:  # Python < 3.11
    import tomli as tomllib

from .errors import ConfigError
from .workloads import Workload, option, resolve


@dataclasses.dataclass(frozen=True)
class JobSection:
    """The ``[job]`` table: what to run and how."""

    workload: str = option("", help="workload name, or 'package.module:Class'")
    output: str = option("", help="HDF5 output path (default results/<job file name>.h5)")
    scheduler: str = option("steal", help="scheduling policy",
                            choices=("steal", "dynamic", "static"))
    seed: int = option(0, help="seed for every random choice of the run")
    max_attempts: int = option(3, help="attempts of a task that raises before it is failed", min=1)
    task_timeout: float = option(0.0, help="seconds before a running task is timed out (0: never)",
                                 min=0)
    commit_interval: float = option(1.0, help="seconds between commits to the output file",
                                    min=0.01)


@dataclasses.dataclass(frozen=True)
class JobConfig:
    """A validated job: ``[job]``, the workload's parameters and where they came from."""

    job: JobSection
    params: Any
    text: str
    path: str | None
    base_dir: Path
    sources: dict           # "section.key" -> where it was set (for messages)

    def effective(self) -> dict:
        """The resolved settings that define the job (output path excluded)."""
        job = dataclasses.asdict(self.job)
        job.pop("output")
        return {"job": job, "params": dataclasses.asdict(self.params)}


#: Output may go anywhere the user can write (scratch is often outside the run
#: directory), except into the system's own directories.
SYSTEM_DIRS = ("/bin", "/boot", "/dev", "/etc", "/lib", "/lib32", "/lib64", "/libx32", "/proc",
               "/run", "/sbin", "/sys", "/usr", "/var/lib", "/var/log")


def check_output_path(output: str) -> Path:
    """Resolve an output path and refuse one that cannot be a job's output.

    Relative paths are relative to the current directory and may lead out of
    it (``../scratch/x.h5``); the path is resolved (``..`` and symbolic links)
    before it is checked.  Refused: a path inside a system directory
    (:data:`SYSTEM_DIRS`, or the root directory itself) and an existing
    directory.  An existing *file* is refused later, unless ``--resume``.
    """
    resolved = Path(output).expanduser().resolve()
    inside = [d for d in SYSTEM_DIRS if resolved == Path(d) or Path(d) in resolved.parents]
    if inside or resolved.parent == Path("/"):
        where = inside[0] if inside else "/"
        raise ConfigError(f"output = {output!r} resolves to {str(resolved)!r}, inside the "
                          f"system directory {where}; hpcmicro never writes there. Choose a "
                          "path under your project or scratch directory.", key="job.output")
    if resolved.is_dir():
        raise ConfigError(f"output = {output!r} is a directory; give a file name inside it, "
                          f"for example {str(Path(output) / 'results.h5')!r}", key="job.output")
    return resolved


def _line_of(text: str, section: str, key: str) -> int | None:
    """The 1-based line where ``key`` is set inside ``[section]``, if found."""
    current = None
    for n, line in enumerate(text.splitlines(), 1):
        s = line.strip()
        head = re.match(r"^\[\s*([^\]]+?)\s*\]", s)
        if head:
            current = head.group(1).strip().strip('"')
        elif current == section and re.match(rf'^"?{re.escape(key)}"?\s*=', s):
            return n
    return None


def _section_line(text: str, section: str) -> int | None:
    for n, line in enumerate(text.splitlines(), 1):
        if re.match(rf"^\s*\[\s*{re.escape(section)}\s*\]", line):
            return n
    return None


def _parse_value(raw: str) -> Any:
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw


def _check_value(name: str, f: dataclasses.Field, value: Any) -> Any:
    meta = f.metadata
    default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
    if value in meta.get("also", ()):
        return value
    kind = type(default)
    ok = isinstance(value, kind) and not (kind is int and isinstance(value, bool))
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value, ok = float(value), True
    if not ok:
        extra = f" or one of {list(meta['also'])}" if meta.get("also") else ""
        raise ConfigError(f"{name} = {value!r} has the wrong type: expected a "
                          f"{kind.__name__}{extra} ({meta.get('help', '')})")
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{name} = {value!r} is not a finite number")
    choices = meta.get("choices")
    if choices and value not in choices:
        raise ConfigError(f"{name} = {value!r} is not allowed; choose from "
                          f"{', '.join(map(str, choices))}")
    lo, hi = meta.get("min"), meta.get("max")
    if lo is not None and (value < lo or (meta.get("min_exclusive") and value == lo)):
        rel = ">" if meta.get("min_exclusive") else ">="
        raise ConfigError(f"{name} = {value!r} is out of range; it must be {rel} {lo}")
    if hi is not None and value > hi:
        raise ConfigError(f"{name} = {value!r} is out of range; it must be <= {hi}")
    return value


def _build(cls, table: dict, section: str, where) -> Any:
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(table) - set(fields))
    if unknown:
        k = unknown[0]
        raise where(ConfigError(f"unknown key {k!r}; the keys of [{section}] are "
                                f"{', '.join(fields)}", key=f"{section}.{k}"))
    values = {}
    for k, v in table.items():
        try:
            values[k] = _check_value(k, fields[k], v)
        except ConfigError as e:
            e.key = f"{section}.{k}"
            raise where(e) from None
    return cls(**values)


def load_job(path: str | os.PathLike | None, *, text: str | None = None,
             overrides: tuple[str, ...] = (), environ=None, output: str | None = None) -> JobConfig:
    """Read, layer and validate a job file.

    Parameters
    ----------
    path
        The TOML job file (or None with ``text``).
    overrides
        ``"section.key=value"`` strings from ``--set``.
    environ
        Mapping read for ``HPCMICRO_<SECTION>_<KEY>`` (default ``os.environ``).
    output
        ``-o`` from the command line, overriding ``[job] output``.

    Raises
    ------
    ConfigError
        With the file and line of the offending key.
    """
    environ = os.environ if environ is None else environ
    shown = str(path) if path is not None else "<job>"
    if text is None:
        try:
            text = Path(path).read_text()
        except FileNotFoundError:
            raise ConfigError(f"job file {shown} does not exist") from None
        except (OSError, UnicodeDecodeError) as e:
            raise ConfigError(f"cannot read job file {shown}: {e}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        line = getattr(e, "lineno", None)
        raise ConfigError(f"invalid TOML: {e}", path=shown, line=line) from None
    sources: dict[str, str] = {}

    def setkey(section: str, key: str, value: Any, src: str) -> None:
        table = data.setdefault(section, {})
        if not isinstance(table, dict):
            raise ConfigError(f"{src}: [{section}] is not a table")
        table[key] = value
        sources[f"{section}.{key}"] = src

    prefix = "HPCMICRO_"
    for var, raw in sorted(environ.items()):
        if var.startswith(prefix) and var.count("_") >= 2:
            section, _, key = var[len(prefix):].partition("_")
            setkey(section.lower(), key.lower(), _parse_value(raw), f"environment {var}")
    for item in overrides:
        name, eq, raw = item.partition("=")
        section, dot, key = name.strip().partition(".")
        if not eq or not dot or not key:
            raise ConfigError(f"--set {item!r}: expected section.key=value, "
                              "for example --set job.scheduler=dynamic")
        setkey(section, key.strip(), _parse_value(raw.strip()), f"--set {item}")
    if output:
        setkey("job", "output", output, "-o")

    def where(err: ConfigError) -> ConfigError:
        src = sources.get(err.key or "")
        if src:
            err.path, err.line = src, None
        else:
            section, _, key = (err.key or "").partition(".")
            err.path = shown
            err.line = _line_of(text, section, key) or _section_line(text, section)
        return err

    job_table = data.get("job")
    if not isinstance(job_table, dict):
        raise ConfigError("the job file has no [job] table; it needs at least "
                          "[job] workload = \"synthetic\" (or align, weather)", path=shown)
    job = _build(JobSection, job_table, "job", where)
    if not job.workload:
        raise where(ConfigError("workload is missing; set it to synthetic, align or weather",
                                key="job.workload"))
    try:
        wl_cls: type[Workload] = resolve(job.workload)
    except ConfigError as e:
        raise where(e) from None
    extra = sorted(set(data) - {"job", wl_cls.name})
    if extra:
        raise ConfigError(f"unknown table [{extra[0]}]; this job runs workload "
                          f"{wl_cls.name!r}, whose parameters go in [{wl_cls.name}]",
                          path=shown, line=_section_line(text, extra[0]))
    params = _build(wl_cls.Params, data.get(wl_cls.name, {}), wl_cls.name, where)
    if not job.output:
        stem = Path(path).stem if path is not None else wl_cls.name
        job = dataclasses.replace(job, output=f"results/{stem}.h5")
    try:
        check_output_path(job.output)
    except ConfigError as e:
        raise where(e) from None
    base = Path(path).resolve().parent if path is not None else Path.cwd()
    cfg = JobConfig(job=job, params=params, text=text, path=shown, base_dir=base,
                    sources=sources)
    try:
        wl_cls(params, cfg).check()
    except ConfigError as e:
        if e.key and "." not in e.key:
            e.key = f"{wl_cls.name}.{e.key}"
        raise where(e) from None
    return cfg
