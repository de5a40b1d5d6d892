"""DAG files (YAML) into `DagSpec`s. The format is documented in docs/dag-files.md.

`parse_source(text, fileloc, defaults)` never raises for a bad file: every problem becomes an
error line `<file>:<line>: <message>` in the result. A DAG with an error is left out and the
other DAGs of the file still load, as Airflow's DagBag does with a DAG that fails validation.
"""
from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import jsonschema
import yaml

from app.dags import timetable
from app.dags.operators import OPERATORS, operator_info
from app.dags.structure import OUTCOMES, TRIGGER_RULES, WEIGHT_RULES, DagSpec, ParamSpec, TaskSpec

# Bumped when parsing changes, so that stored files are parsed again after an upgrade.
PARSER_VERSION = "1"
KEY_REGEX = re.compile(r"^[\w.-]+$")
ID_MAX_LENGTH = 250
# Airflow's deprecated trigger rule names and what they mean now.
TRIGGER_RULE_ALIASES = {"dummy": "always", "none_failed_or_skipped": "none_failed_min_one_success"}

DAG_KEYS = frozenset({
    "dag_id", "description", "schedule", "start_date", "end_date", "catchup", "max_active_runs",
    "max_active_tasks", "max_consecutive_failed_dag_runs", "dagrun_timeout", "tags", "owners",
    "is_paused_upon_creation", "doc_md", "params", "default_args", "render_template_as_native_obj",
    "tasks",
})
TASK_KEYS = frozenset({
    "task_id", "operator", "upstream", "trigger_rule", "retries", "retry_delay",
    "retry_exponential_backoff", "max_retry_delay", "execution_timeout", "pool", "pool_slots",
    "queue", "priority_weight", "weight_rule", "owner", "doc_md", "depends_on_past",
    "wait_for_downstream", "start_date", "end_date", "outlets", "inlets", "expand",
    "template_fields", "ui_color", "ui_fgcolor", "duration", "outcome", "fail_tries", "xcom", "log",
})
# Task fields that default_args cannot set (as in Airflow, where they are not operator defaults).
NOT_DEFAULTABLE = frozenset({"task_id", "upstream", "expand", "template_fields", "operator"})
_MISSING = object()


@dataclass(frozen=True)
class ParseDefaults:
    """The configuration a DAG file falls back on (Airflow's defaults unless configured)."""

    catchup: bool = True
    max_active_runs: int = 16
    max_active_tasks: int = 16
    max_consecutive_failed_dag_runs: int = 0
    default_owner: str = "airflow"
    timezone: str = "UTC"

    @classmethod
    def from_conf(cls, conf) -> ParseDefaults:
        tz = conf.get("core", "default_timezone")
        return cls(
            catchup=conf.getboolean("scheduler", "catchup_by_default"),
            max_active_runs=conf.getint("scheduler", "max_active_runs_per_dag"),
            max_active_tasks=conf.getint("scheduler", "max_active_tasks_per_dag"),
            timezone="UTC" if tz.lower() == "utc" else tz,
        )

    def fingerprint(self) -> str:
        """Changes when a stored parse may no longer match what the file means now."""
        return f"{PARSER_VERSION}:{self!r}"


@dataclass
class ParsedFile:
    fileloc: str
    dags: list[DagSpec] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def stack_trace(self) -> str | None:
        return "\n".join(self.errors) or None


class SpecError(Exception):
    def __init__(self, message: str, line: int | None):
        super().__init__(message)
        self.message, self.line = message, line


class _Invalid(Exception):
    """A value of the wrong shape; the caller adds the field name and line."""


# -- YAML with line numbers --------------------------------------------------------------------
class LineMap(dict):
    """A mapping from the file, remembering its own line and each key's line."""

    line: int | None = None
    key_lines: dict


class _Loader(yaml.SafeLoader):
    pass


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> LineMap:
    loader.flatten_mapping(node)
    mapping = LineMap()
    mapping.line, mapping.key_lines = node.start_mark.line + 1, {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, (str, int, float, bool)) and key is not None:
            raise yaml.constructor.ConstructorError(None, None, "found an unhashable key", key_node.start_mark)
        if key in mapping:
            raise yaml.constructor.ConstructorError(
                None, None, f"found duplicate key {key!r}", key_node.start_mark
            )
        mapping[key] = loader.construct_object(value_node, deep=True)
        mapping.key_lines[key] = key_node.start_mark.line + 1
    return mapping


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _line_of(value: Any, default: int | None) -> int | None:
    return getattr(value, "line", None) or default


# -- value converters (raise _Invalid) ---------------------------------------------------------
def _string(value) -> str:
    if not isinstance(value, str):
        raise _Invalid(f"must be a string, not {_shown(value)}")
    return value


def _optional_string(value) -> str | None:
    return None if value is None else _string(value)


def _boolean(value) -> bool:
    if not isinstance(value, bool):
        raise _Invalid(f"must be true or false, not {_shown(value)}")
    return value


def _integer(minimum: int) -> Callable[[Any], int]:
    def convert(value) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise _Invalid(f"must be an integer of at least {minimum}, not {_shown(value)}")
        return value

    return convert


def _seconds(value) -> float:
    """Seconds as a number, or an ISO 8601 duration such as PT5M."""
    if isinstance(value, str):
        try:
            delta = timetable.parse_duration(value)
        except timetable.ScheduleError:
            delta = None
        if not isinstance(delta, dt.timedelta):
            raise _Invalid(f"must be seconds or an ISO 8601 duration without months or years, not {value!r}")
        return delta.total_seconds()
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise _Invalid(f"must be a number of seconds (at least 0) or an ISO 8601 duration, not {_shown(value)}")
    return float(value)


def _optional_seconds(value) -> float | None:
    return None if value is None else _seconds(value)


def _duration_range(value) -> tuple[float, float]:
    if isinstance(value, list):
        if len(value) != 2:
            raise _Invalid("must be seconds or a [min, max] pair of seconds")
        low, high = _seconds(value[0]), _seconds(value[1])
        if high < low:
            raise _Invalid(f"has its maximum ({high:g}) below its minimum ({low:g})")
        return (low, high)
    seconds = _seconds(value)
    return (seconds, seconds)


def _string_list(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _Invalid(f"must be a string or a list of strings, not {_shown(value)}")
    return list(value)


def _mapping(value) -> dict:
    if not isinstance(value, dict):
        raise _Invalid(f"must be a mapping, not {_shown(value)}")
    return value


def _uri(value: str) -> str:
    if not value or value.isspace():
        raise _Invalid("has an empty dataset URI")
    if not value.isascii():
        raise _Invalid(f"has a dataset URI with non-ASCII characters: {value!r}")
    if len(value) > 3000:
        raise _Invalid("has a dataset URI longer than 3000 characters")
    if value.split("://", 1)[0].lower() == "airflow" and "://" in value:
        raise _Invalid(f"uses the reserved dataset scheme 'airflow': {value!r}")
    return value


def _uris(value) -> list[str]:
    return [_uri(v) for v in _string_list(value)]


def _one_of(choices, aliases=None) -> Callable[[Any], str]:
    aliases = aliases or {}

    def convert(value) -> str:
        if isinstance(value, str) and value in aliases:
            return aliases[value]
        if value not in choices:
            raise _Invalid(f"must be one of {', '.join(choices)}; got {_shown(value)}")
        return value

    return convert


def _color(value) -> str:
    if not isinstance(value, str) or not re.fullmatch(r"#[a-fA-F0-9]{3,6}", value):
        raise _Invalid(f"must be a colour like #e8f7e4, not {_shown(value)}")
    return value


def _shown(value) -> str:
    if isinstance(value, (dict, list)):
        return "a mapping" if isinstance(value, dict) else "a list"
    return repr(value)


def jsonable(value):
    """Free-form values (params, XComs, template fields) as plain JSON: dates become ISO strings."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return value


# -- reading one mapping -----------------------------------------------------------------------
class _Reader:
    """Typed access to one DAG or task mapping, with `fallback` (default_args) behind it."""

    def __init__(self, mapping: LineMap, context: str, fallback: LineMap | None = None):
        self.mapping, self.context = mapping, context
        self.fallback = fallback if fallback is not None else LineMap()

    def line(self, key: str | None = None) -> int | None:
        if key in self.mapping.key_lines:
            return self.mapping.key_lines[key]
        if key in getattr(self.fallback, "key_lines", {}):
            return self.fallback.key_lines[key]
        return self.mapping.line

    def fail(self, key: str | None, message: str):
        raise SpecError(f"{self.context}: {message}", self.line(key))

    def raw(self, key: str, default=_MISSING):
        if key in self.mapping:
            return self.mapping[key]
        if key in self.fallback and key not in NOT_DEFAULTABLE:
            return self.fallback[key]
        return default

    def get(self, key: str, convert: Callable, default=None):
        value = self.raw(key)
        if value is _MISSING:
            return default
        try:
            return convert(value)
        except _Invalid as exc:
            self.fail(key, f"'{key}' {exc}")

    def check_keys(self, allowed) -> None:
        for key in self.mapping:
            if key not in allowed:
                self.fail(key, f"unknown field {key!r}")


def _check_id(reader: _Reader, key: str, kind: str) -> str:
    value = reader.raw(key)
    if value is _MISSING:
        reader.fail(None, f"'{key}' is required")
    if not isinstance(value, str) or not KEY_REGEX.match(value) or len(value) > ID_MAX_LENGTH:
        reader.fail(
            key,
            f"the {kind} id {value!r} must be made of alphanumeric characters, dashes, dots and "
            f"underscores exclusively, at most {ID_MAX_LENGTH} of them",
        )
    return value


# -- the file ----------------------------------------------------------------------------------
def parse_source(text: str, fileloc: str, defaults: ParseDefaults) -> ParsedFile:
    result = ParsedFile(fileloc)

    def error(line: int | None, message: str) -> None:
        result.errors.append(f"{fileloc}:{line if line is not None else 1}: {message}")

    try:
        document = yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader is a SafeLoader
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = " ".join(filter(None, [exc.context, exc.problem])) or str(exc)
        error(mark.line + 1 if mark else None, f"YAML syntax error: {problem}")
        return result
    except yaml.YAMLError as exc:
        error(None, f"YAML syntax error: {exc}")
        return result
    if document is None:
        return result
    if isinstance(document, LineMap) and "dags" in document and "dag_id" not in document:
        extra = [k for k in document if k != "dags"]
        if extra:
            error(document.key_lines[extra[0]], f"unknown top-level field {extra[0]!r} beside 'dags'")
            return result
        entries = document["dags"]
        if not isinstance(entries, list):
            error(document.key_lines["dags"], "'dags' must be a list of DAG mappings")
            return result
    elif isinstance(document, LineMap):
        entries = [document]
    else:
        error(None, "a DAG file holds one DAG (a mapping) or several (a mapping with a 'dags' list)")
        return result
    seen: dict[str, int | None] = {}
    for position, entry in enumerate(entries, 1):
        try:
            spec = build_dag(entry, fileloc, defaults, position)
        except SpecError as exc:
            error(exc.line, exc.message)
            continue
        if spec.dag_id in seen:
            error(spec.line, f"DAG id '{spec.dag_id}' is already defined on line {seen[spec.dag_id]} of this file")
            continue
        seen[spec.dag_id] = spec.line
        result.dags.append(spec)
    return result


def build_dag(entry, fileloc: str, defaults: ParseDefaults, position: int = 1) -> DagSpec:
    if not isinstance(entry, LineMap):
        raise SpecError(f"DAG entry {position} must be a mapping", _line_of(entry, None))
    reader = _Reader(entry, f"DAG entry {position}")
    dag_id = _check_id(reader, "dag_id", "DAG")
    reader.context = f"DAG '{dag_id}'"
    reader.check_keys(DAG_KEYS)
    tz = timetable.resolve_timezone(defaults.timezone)
    to_datetime = _datetime_converter(tz)
    schedule = reader.raw("schedule", None)
    try:
        parsed_schedule = timetable.parse_schedule(schedule)
        for uri in parsed_schedule.datasets:
            _uri(uri)
    except (timetable.ScheduleError, _Invalid) as exc:
        reader.fail("schedule", f"bad schedule: {exc}")
    spec = DagSpec(
        dag_id=dag_id,
        fileloc=fileloc,
        description=reader.get("description", _optional_string),
        schedule=jsonable(schedule),
        schedule_interval=timetable.schedule_interval_wire(schedule),
        timetable_description=timetable.describe(schedule),
        start_date=reader.get("start_date", to_datetime),
        end_date=reader.get("end_date", to_datetime),
        catchup=reader.get("catchup", _boolean, defaults.catchup),
        max_active_runs=reader.get("max_active_runs", _integer(1), defaults.max_active_runs),
        max_active_tasks=reader.get("max_active_tasks", _integer(1), defaults.max_active_tasks),
        max_consecutive_failed_dag_runs=reader.get(
            "max_consecutive_failed_dag_runs", _integer(0), defaults.max_consecutive_failed_dag_runs
        ),
        dagrun_timeout=reader.get("dagrun_timeout", _optional_seconds),
        tags=_tags(reader),
        is_paused_upon_creation=reader.get("is_paused_upon_creation", lambda v: None if v is None else _boolean(v)),
        doc_md=reader.get("doc_md", _optional_string),
        params=_params(reader),
        render_template_as_native_obj=reader.get("render_template_as_native_obj", _boolean, False),
        dataset_triggers=list(parsed_schedule.datasets),
        timezone=defaults.timezone,
        line=entry.line,
    )
    if spec.start_date and spec.end_date and spec.end_date < spec.start_date:
        reader.fail("end_date", "end_date is before start_date")
    if parsed_schedule.kind == "continuous" and spec.max_active_runs != 1:
        reader.fail("schedule", "a @continuous schedule requires max_active_runs: 1")
    if parsed_schedule.kind != "none" and any(p.value is None for p in spec.params.values()):
        missing = next(name for name, p in spec.params.items() if p.value is None)
        reader.fail(
            "params", f"param '{missing}' has no default, so the schedule must be null (only manual runs can pass it)"
        )
    default_args = reader.get("default_args", _mapping, LineMap())
    spec.tasks = _tasks(reader, default_args, spec, defaults)
    owners = reader.get("owners", _string_list)
    spec.owners = owners if owners is not None else list(dict.fromkeys(t.owner for t in spec.tasks))
    return spec


def _datetime_converter(tz: dt.tzinfo) -> Callable[[Any], dt.datetime | None]:
    def convert(value) -> dt.datetime | None:
        if value is None:
            return None
        if isinstance(value, str):
            try:
                value = dt.datetime.fromisoformat(value)
            except ValueError:
                raise _Invalid(f"must be an ISO 8601 date or datetime, not {value!r}") from None
        if isinstance(value, dt.datetime):
            aware = value if value.tzinfo is not None else value.replace(tzinfo=tz)
            return aware.astimezone(dt.timezone.utc)
        if isinstance(value, dt.date):
            return dt.datetime(value.year, value.month, value.day, tzinfo=tz).astimezone(dt.timezone.utc)
        raise _Invalid(f"must be a date or datetime, not {_shown(value)}")

    return convert


def _tags(reader: _Reader) -> list[str]:
    tags = reader.get("tags", _string_list, [])
    for tag in tags:
        if not tag or len(tag) > 100:
            reader.fail("tags", f"tag {tag!r} must have between 1 and 100 characters")
    return list(dict.fromkeys(tags))


def _params(reader: _Reader) -> dict[str, ParamSpec]:
    raw = reader.get("params", _mapping, {})
    params = {}
    for name, value in raw.items():
        if isinstance(value, dict) and ("default" in value or "type" in value):
            schema = jsonable(value)
            default = schema.pop("default", None)
            description = schema.pop("description", None)
            if description is not None and not isinstance(description, str):
                reader.fail("params", f"param '{name}': 'description' must be a string")
        else:
            default, description, schema = jsonable(value), None, {}
        try:
            jsonschema.Draft7Validator.check_schema(schema)
            if default is not None:
                jsonschema.validate(default, schema, format_checker=jsonschema.FormatChecker())
        except jsonschema.SchemaError as exc:
            reader.fail("params", f"param '{name}' has an invalid JSON schema: {exc.message}")
        except jsonschema.ValidationError as exc:
            reader.fail("params", f"invalid default for param '{name}': {exc.message}")
        params[str(name)] = ParamSpec(value=default, description=description, schema=schema)
    return params


# -- tasks -------------------------------------------------------------------------------------
def _tasks(dag_reader: _Reader, default_args: LineMap, spec: DagSpec, defaults: ParseDefaults) -> list[TaskSpec]:
    entries = dag_reader.raw("tasks", [])
    if not isinstance(entries, list):
        dag_reader.fail("tasks", "'tasks' must be a list of task mappings")
    tasks: list[TaskSpec] = []
    seen: set[str] = set()
    for position, entry in enumerate(entries, 1):
        if not isinstance(entry, LineMap):
            raise SpecError(f"DAG '{spec.dag_id}': task entry {position} must be a mapping", dag_reader.line("tasks"))
        task = _task(entry, default_args, spec, defaults, position)
        if task.task_id in seen:
            raise SpecError(
                f"DAG '{spec.dag_id}': task id '{task.task_id}' has already been added to the DAG", entry.line
            )
        seen.add(task.task_id)
        tasks.append(task)
    lines = {t.task_id: e.key_lines.get("upstream", e.line) for t, e in zip(tasks, entries, strict=True)}
    for task in tasks:
        for upstream in task.upstream:
            if upstream not in seen:
                raise SpecError(
                    f"DAG '{spec.dag_id}': task '{task.task_id}' names unknown upstream task '{upstream}'",
                    lines[task.task_id],
                )
    cycle = _find_cycle(tasks)
    if cycle:
        raise SpecError(
            f"DAG '{spec.dag_id}': cycle detected: {' -> '.join(cycle)}", lines[cycle[0]]
        )
    downstream: dict[str, list[str]] = {t.task_id: [] for t in tasks}
    for task in tasks:
        for upstream in task.upstream:
            downstream[upstream].append(task.task_id)
    for task in tasks:
        task.downstream = downstream[task.task_id]
    return tasks


def _task(entry: LineMap, default_args: LineMap, spec: DagSpec, defaults: ParseDefaults, position: int) -> TaskSpec:
    reader = _Reader(entry, f"DAG '{spec.dag_id}', task entry {position}", default_args)
    task_id = _check_id(reader, "task_id", "task")
    reader.context = f"DAG '{spec.dag_id}', task '{task_id}'"
    operator = reader.get("operator", _string, "EmptyOperator")
    info = operator_info(operator)
    if info is None:
        reader.fail(
            "operator",
            f"unknown operator {operator!r}; use one of {', '.join(sorted(OPERATORS))} or a dotted path",
        )
    reader.check_keys(TASK_KEYS | set(info.template_fields))
    datetime_of = _datetime_converter(timetable.resolve_timezone(defaults.timezone))
    upstream = list(dict.fromkeys(reader.get("upstream", _string_list, [])))
    if task_id in upstream:
        reader.fail("upstream", f"task '{task_id}' cannot be its own upstream")
    task = TaskSpec(
        task_id=task_id,
        operator=info.class_name,
        operator_module=info.module,
        operator_name=info.operator_name,
        upstream=upstream,
        trigger_rule=reader.get("trigger_rule", _one_of(TRIGGER_RULES, TRIGGER_RULE_ALIASES), "all_success"),
        retries=reader.get("retries", _integer(0), 0),
        retry_delay=reader.get("retry_delay", _seconds, 300.0),
        retry_exponential_backoff=reader.get("retry_exponential_backoff", _boolean, False),
        max_retry_delay=reader.get("max_retry_delay", _optional_seconds),
        execution_timeout=reader.get("execution_timeout", _optional_seconds),
        pool=reader.get("pool", _string, "default_pool"),
        pool_slots=reader.get("pool_slots", _integer(1), 1),
        queue=reader.get("queue", _string, "default"),
        priority_weight=reader.get("priority_weight", _integer(-(2**31)), 1),
        weight_rule=reader.get("weight_rule", _one_of(WEIGHT_RULES), "downstream"),
        owner=reader.get("owner", _string, defaults.default_owner),
        doc_md=reader.get("doc_md", _optional_string),
        depends_on_past=reader.get("depends_on_past", _boolean, False),
        wait_for_downstream=reader.get("wait_for_downstream", _boolean, False),
        start_date=reader.get("start_date", datetime_of) or spec.start_date,
        end_date=reader.get("end_date", datetime_of) or spec.end_date,
        outlets=reader.get("outlets", _uris, []),
        inlets=reader.get("inlets", _uris, []),
        expand=_expand(reader),
        template_fields=_template_fields(reader, info.template_fields),
        ui_color=reader.get("ui_color", _color, info.ui_color),
        ui_fgcolor=reader.get("ui_fgcolor", _color, "#000"),
        duration=reader.get("duration", _duration_range, (0.0, 0.0)),
        outcome=reader.get("outcome", _one_of(OUTCOMES), "success"),
        fail_tries=reader.get("fail_tries", _integer(0), 0),
        xcom=jsonable(reader.get("xcom", _mapping, {})),
        log=[str(line) for line in reader.get("log", _log_lines, [])],
    )
    if task.outcome == "flaky" and task.fail_tries < 1:
        reader.fail("fail_tries", "a flaky task needs 'fail_tries' of at least 1")
    return task


def _log_lines(value) -> list:
    if isinstance(value, str):
        return value.splitlines()
    if not isinstance(value, list) or any(isinstance(v, (dict, list)) for v in value):
        raise _Invalid("must be a string or a list of lines")
    return value


def _expand(reader: _Reader) -> dict[str, list] | None:
    expand = reader.get("expand", _mapping)
    if expand is None:
        return None
    if not expand:
        reader.fail("expand", "'expand' needs at least one argument")
    for name, values in expand.items():
        if not isinstance(values, list):
            reader.fail("expand", f"'expand' argument {name!r} must be a list (one mapped task instance per element)")
    return jsonable(expand)


def _template_fields(reader: _Reader, names: tuple[str, ...]) -> dict[str, Any]:
    extra = reader.get("template_fields", _mapping, {})
    values = {name: jsonable(reader.raw(name, None)) for name in names}
    for name, value in extra.items():
        values[str(name)] = jsonable(value)
    return values


def _find_cycle(tasks: list[TaskSpec]) -> list[str] | None:
    """One cycle of upstream edges as a path `a -> b -> a`, or None."""
    upstream = {t.task_id: t.upstream for t in tasks}
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    for root in upstream:
        if state.get(root):
            continue
        path: list[str] = [root]
        stack = [iter(upstream[root])]
        state[root] = 1
        while stack:
            child = next(stack[-1], None)
            if child is None:
                state[path.pop()] = 2
                stack.pop()
            elif state.get(child) == 1:
                cycle = path[path.index(child):] + [child]
                return list(reversed(cycle))
            elif not state.get(child):
                state[child] = 1
                path.append(child)
                stack.append(iter(upstream[child]))
    return None
