"""Schedules and Airflow's data-interval arithmetic, as pure functions.

A DAG file's `schedule` is one of: a cron string, a preset (`@once`, `@continuous`, `@hourly`,
`@daily`, `@weekly`, `@monthly`, `@quarterly`, `@yearly`; croniter's `@annually` and `@midnight`),
an ISO 8601 duration (`PT1H`, `P1D`, `P1M`), `null`, or `{"datasets": [uri, ...]}`. Each maps to
the Airflow 2.11 timetable it stands for, with the same arithmetic: cron strings and presets to
`CronDataIntervalTimetable`, durations to `DeltaDataIntervalTimetable`, `null` to `NullTimetable`,
datasets to `DatasetTriggeredTimetable`.

Interface (datetimes are aware; results are aware UTC):

- `parse_schedule(raw) -> Schedule`: validate a raw schedule; raises `ScheduleError`.
- `schedule_interval_wire(raw)`: the API's `schedule_interval` (CronExpression / TimeDelta /
  RelativeDelta object, or None); `describe(raw)`: `timetable_description`.
- `next_dagrun_info(spec, last_automated, *, now) -> DagRunInfo | None`: the next scheduled run
  after the latest scheduled one (`last_automated`, its `DataInterval`, or None before the first),
  honouring the spec's `start_date`, `end_date` and `catchup`. None means: never (again).
- `next_dagrun_fields(spec, last_automated, *, now) -> dict`: the same as `DagModel`'s
  `next_dagrun*` column values.
- `infer_manual_data_interval(spec, run_after) -> DataInterval`: the interval of a run triggered
  by hand for logical date `run_after`.
- `infer_automated_data_interval(spec, logical_date) -> DataInterval`: the interval of a
  scheduled run at `logical_date` that carries none.

`spec` is anything with `schedule`, `start_date`, `end_date`, `catchup` and `timezone`
attributes (a `DagSpec`).
"""
from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from croniter import croniter
from dateutil.relativedelta import relativedelta

UTC = dt.timezone.utc

CRON_PRESETS = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@quarterly": "0 0 1 */3 *",
    "@yearly": "0 0 1 1 *",
}
# Not Airflow presets but croniter's own, which Airflow passes through to it unchanged (so their
# timetable_description is empty there too).
CRONITER_ALIASES = frozenset({"@annually", "@midnight"})
_ISO_DURATION = re.compile(
    r"^P(?!$)(?:(?P<years>\d+)Y)?(?:(?P<months>\d+)M)?(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?=\d)(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?$"
)


class ScheduleError(ValueError):
    """A schedule that no timetable stands for."""


@dataclass(frozen=True)
class DataInterval:
    start: dt.datetime
    end: dt.datetime

    @classmethod
    def exact(cls, at: dt.datetime) -> DataInterval:
        return cls(at, at)


@dataclass(frozen=True)
class DagRunInfo:
    """When a scheduled run may be created (`run_after`), its logical date and interval."""

    run_after: dt.datetime
    data_interval: DataInterval

    @property
    def logical_date(self) -> dt.datetime:
        return self.data_interval.start


@dataclass(frozen=True)
class Schedule:
    """A parsed schedule: `kind` is none, once, continuous, cron, delta or datasets."""

    kind: str
    cron: str | None = None
    delta: dt.timedelta | relativedelta | None = None
    datasets: tuple[str, ...] = ()


def parse_duration(text: str) -> dt.timedelta | relativedelta:
    """An ISO 8601 duration; years or months give a relativedelta (calendar arithmetic)."""
    match = _ISO_DURATION.match(text)
    if not match:
        raise ScheduleError(f"Invalid ISO 8601 duration: {text!r}")
    parts = {k: float(v) if k == "seconds" else int(v) for k, v in match.groupdict().items() if v}
    years, months = parts.pop("years", 0), parts.pop("months", 0)
    if years or months:
        weeks = parts.pop("weeks", 0)
        seconds = parts.pop("seconds", 0)
        return relativedelta(
            years=years, months=months, days=parts.get("days", 0) + 7 * weeks,
            hours=parts.get("hours", 0), minutes=parts.get("minutes", 0), seconds=int(seconds),
            microseconds=round((seconds - int(seconds)) * 1_000_000),
        )
    delta = dt.timedelta(**parts)
    if delta <= dt.timedelta(0):
        raise ScheduleError(f"A schedule duration must be positive: {text!r}")
    return delta


def parse_schedule(raw: Any) -> Schedule:
    return _parse_schedule(_key(raw))


def _key(raw: Any):
    # lru_cache needs something hashable; a datasets mapping becomes a tuple.
    if isinstance(raw, dict):
        if set(raw) != {"datasets"}:
            raise ScheduleError("A mapping schedule must have exactly one key, 'datasets'")
        uris = raw["datasets"]
        if not isinstance(uris, list) or not uris or not all(isinstance(u, str) and u for u in uris):
            raise ScheduleError("'datasets' must be a non-empty list of dataset URIs")
        return ("datasets", tuple(uris))
    if raw is None or isinstance(raw, str):
        return raw
    raise ScheduleError(f"A schedule must be a string, null or {{datasets: [...]}}, not {type(raw).__name__}")


@lru_cache(maxsize=1024)
def _parse_schedule(raw) -> Schedule:
    if raw is None:
        return Schedule("none")
    if isinstance(raw, tuple):
        return Schedule("datasets", datasets=raw[1])
    text = raw.strip()
    if text == "@once":
        return Schedule("once")
    if text == "@continuous":
        return Schedule("continuous")
    if text.startswith("P"):
        return Schedule("delta", delta=parse_duration(text))
    if text in CRONITER_ALIASES:
        return Schedule("cron", cron=text)
    expression = CRON_PRESETS.get(text, text)
    if text.startswith("@") and text not in CRON_PRESETS:
        raise ScheduleError(f"Unknown schedule preset {text!r}")
    if not croniter.is_valid(expression) or len(expression.split()) != 5:
        raise ScheduleError(f"Invalid cron expression: {text!r}")
    return Schedule("cron", cron=expression)


# -- wire form ---------------------------------------------------------------------------------
def schedule_interval_wire(raw: Any) -> dict | None:
    """`schedule_interval` as Airflow's API sends it."""
    schedule = parse_schedule(raw)
    if schedule.kind == "none":
        return None
    if schedule.kind == "datasets":
        return {"__type": "CronExpression", "value": "Dataset"}
    if schedule.kind == "delta":
        return _delta_wire(schedule.delta)
    return {"__type": "CronExpression", "value": raw.strip()}


def timedelta_wire(seconds: float | None) -> dict | None:
    """Airflow's TimeDelta object for a duration in seconds."""
    if seconds is None:
        return None
    return _delta_wire(dt.timedelta(seconds=seconds))


def _delta_wire(delta) -> dict:
    if isinstance(delta, relativedelta):
        out = {"__type": "RelativeDelta"}
        for name in ("years", "months", "days", "leapdays", "hours", "minutes", "seconds", "microseconds"):
            out[name] = getattr(delta, name)
        for name in ("year", "month", "day", "hour", "minute", "second", "microsecond"):
            out[name] = getattr(delta, name)
        return out
    return {"__type": "TimeDelta", "days": delta.days, "seconds": delta.seconds, "microseconds": delta.microseconds}


def describe(raw: Any) -> str:
    """`timetable_description`, worded as Airflow's timetables word it."""
    schedule = parse_schedule(raw)
    if schedule.kind == "none":
        return "Never, external triggers only"
    if schedule.kind == "once":
        return "Once, as soon as possible"
    if schedule.kind == "continuous":
        return "As frequently as possible, but only one run at a time."
    if schedule.kind == "datasets":
        return "Triggered by datasets"
    if schedule.kind == "delta":
        return ""
    return _describe_cron(schedule.cron)


@lru_cache(maxsize=1024)
def _describe_cron(expression: str) -> str:
    from cron_descriptor import CasingTypeEnum, ExpressionDescriptor

    try:
        return ExpressionDescriptor(
            expression=expression, casing_type=CasingTypeEnum.Sentence, use_24hour_time_format=True
        ).get_description()
    except Exception:  # Airflow leaves the description empty when the library cannot word it
        return ""


def dataset_expression(raw: Any) -> dict | None:
    """The `dataset_expression` of a dataset-scheduled DAG (all of its datasets), else None."""
    schedule = parse_schedule(raw)
    return {"all": list(schedule.datasets)} if schedule.kind == "datasets" else None


# -- arithmetic ------------------------------------------------------------------------------
def resolve_timezone(name: str | None) -> dt.tzinfo:
    if not name or name.upper() == "UTC":
        return UTC
    return zoneinfo.ZoneInfo(name)


class _Cron:
    def __init__(self, expression: str, tz: dt.tzinfo):
        self.expression, self.tz = expression, tz

    def _step(self, current: dt.datetime, forward: bool) -> dt.datetime:
        # Evaluate in the DAG's timezone (so "0 0 * * *" is local midnight), answer in UTC.
        naive = current.astimezone(self.tz).replace(tzinfo=None)
        it = croniter(self.expression, naive)
        found = it.get_next(dt.datetime) if forward else it.get_prev(dt.datetime)
        return found.replace(tzinfo=self.tz).astimezone(UTC)

    def next(self, current: dt.datetime) -> dt.datetime:
        return self._step(current, True)

    def prev(self, current: dt.datetime) -> dt.datetime:
        return self._step(current, False)

    def align_to_next(self, current: dt.datetime) -> dt.datetime:
        following = self.next(current)
        return current if self.prev(following) == current else following

    def align_to_prev(self, current: dt.datetime) -> dt.datetime:
        previous = self.prev(current)
        return current if self.next(previous) == current else previous

    def skip_to_latest(self, earliest: dt.datetime | None, now: dt.datetime) -> dt.datetime:
        # Start one period before now, so the newest complete interval is the one to run.
        last_start = self.prev(now)
        next_start = self.next(last_start)
        new_start = last_start if next_start == now else self.prev(last_start)
        return new_start if earliest is None else max(new_start, self.align_to_next(earliest))


class _Delta:
    def __init__(self, delta):
        self.delta = delta

    def next(self, current: dt.datetime) -> dt.datetime:
        return (current + self.delta).astimezone(UTC)

    def prev(self, current: dt.datetime) -> dt.datetime:
        return (current - self.delta).astimezone(UTC)

    def align_to_next(self, current: dt.datetime) -> dt.datetime:
        return current

    def align_to_prev(self, current: dt.datetime) -> dt.datetime:
        return current

    def skip_to_latest(self, earliest: dt.datetime | None, now: dt.datetime) -> dt.datetime:
        new_start = self.prev(now)
        return new_start if earliest is None else max(new_start, earliest)


def _interval_timetable(spec) -> _Cron | _Delta | None:
    schedule = parse_schedule(spec.schedule)
    if schedule.kind == "cron":
        return _Cron(schedule.cron, resolve_timezone(getattr(spec, "timezone", None)))
    if schedule.kind == "delta":
        return _Delta(schedule.delta)
    return None


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    return value.astimezone(UTC) if value is not None else None


def next_dagrun_info(spec, last_automated: DataInterval | None, *, now: dt.datetime) -> DagRunInfo | None:
    schedule = parse_schedule(spec.schedule)
    earliest, latest, now = _utc(spec.start_date), _utc(spec.end_date), _utc(now)
    if schedule.kind in ("none", "datasets"):
        return None
    if schedule.kind == "once":
        # Always at the start date, whatever catchup says (as Airflow has done since 1.10).
        if last_automated is not None or earliest is None or (latest is not None and earliest > latest):
            return None
        return DagRunInfo(earliest, DataInterval.exact(earliest))
    if schedule.kind == "continuous":
        return _next_continuous(earliest, latest, last_automated, now)
    timetable = _interval_timetable(spec)
    if not spec.catchup:
        earliest = timetable.skip_to_latest(earliest, now)
    elif earliest is not None:
        earliest = timetable.align_to_next(earliest)
    if last_automated is None:
        if earliest is None:
            return None
        start = earliest
    else:
        start = timetable.align_to_prev(_utc(last_automated.end))
        if earliest is not None:
            start = max(start, earliest)
    if latest is not None and start > latest:
        return None
    end = timetable.next(start)
    return DagRunInfo(end, DataInterval(start, end))


def _next_continuous(earliest, latest, last, now) -> DagRunInfo | None:
    if earliest is None:
        return None
    if last is None:
        start, end = earliest, max(earliest, now)
    elif last.end > now:  # the start date lies in the future
        start = earliest
        end = start + (last.end - last.start)
    else:
        start, end = _utc(last.end), now
    if latest is not None and end > latest:
        return None
    return DagRunInfo(end, DataInterval(start, end))


def next_dagrun_fields(spec, last_automated: DataInterval | None, *, now: dt.datetime) -> dict:
    info = next_dagrun_info(spec, last_automated, now=now)
    if info is None:
        return dict.fromkeys(
            ("next_dagrun", "next_dagrun_data_interval_start", "next_dagrun_data_interval_end",
             "next_dagrun_create_after")
        )
    return {
        "next_dagrun": info.logical_date,
        "next_dagrun_data_interval_start": info.data_interval.start,
        "next_dagrun_data_interval_end": info.data_interval.end,
        "next_dagrun_create_after": info.run_after,
    }


def infer_manual_data_interval(spec, run_after: dt.datetime) -> DataInterval:
    run_after = _utc(run_after)
    timetable = _interval_timetable(spec)
    if isinstance(timetable, _Cron):
        # The last complete period before run_after: a daily DAG triggered at 01:00 on the 25th
        # covers the 24th.
        end = timetable.align_to_prev(run_after)
        return DataInterval(timetable.prev(end), end)
    if isinstance(timetable, _Delta):
        return DataInterval(timetable.prev(run_after), run_after)
    return DataInterval.exact(run_after)


def infer_automated_data_interval(spec, logical_date: dt.datetime) -> DataInterval:
    start = _utc(logical_date)
    timetable = _interval_timetable(spec)
    if timetable is None:
        return DataInterval.exact(start)
    return DataInterval(start, timetable.next(start))
