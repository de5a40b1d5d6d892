"""Schedules and Airflow's data-interval arithmetic."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest

from app.dags import timetable
from app.dags.timetable import DagRunInfo, DataInterval

UTC = dt.timezone.utc


def at(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


@dataclass
class Spec:
    schedule: object = "@daily"
    start_date: dt.datetime | None = at(2024, 1, 1)
    end_date: dt.datetime | None = None
    catchup: bool = True
    timezone: str = "UTC"


NOW = at(2024, 3, 10, 12)


@pytest.mark.parametrize(
    ("raw", "kind"),
    [
        (None, "none"),
        ("@once", "once"),
        ("@continuous", "continuous"),
        ("@hourly", "cron"),
        ("@annually", "cron"),
        ("@midnight", "cron"),
        ("*/5 * * * *", "cron"),
        ("PT1H", "delta"),
        ("P1M", "delta"),
        ({"datasets": ["s3://a"]}, "datasets"),
    ],
)
def test_parse_schedule_kinds(raw, kind):
    assert timetable.parse_schedule(raw).kind == kind


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("@fortnightly", "Unknown schedule preset '@fortnightly'"),
        ("61 * * * *", "Invalid cron expression: '61 * * * *'"),
        ("0 0 * * * *", "Invalid cron expression: '0 0 * * * *'"),
        ("P", "Invalid ISO 8601 duration: 'P'"),
        ("PT0S", "A schedule duration must be positive: 'PT0S'"),
        ("P1X", "Invalid ISO 8601 duration: 'P1X'"),
        ({"datasets": []}, "'datasets' must be a non-empty list of dataset URIs"),
        ({"dataset": ["a"]}, "A mapping schedule must have exactly one key, 'datasets'"),
        (5, "A schedule must be a string, null or {datasets: [...]}, not int"),
    ],
)
def test_parse_schedule_rejects(raw, message):
    with pytest.raises(timetable.ScheduleError) as exc:
        timetable.parse_schedule(raw)
    assert str(exc.value) == message


@pytest.mark.parametrize(
    ("raw", "wire", "description"),
    [
        (None, None, "Never, external triggers only"),
        ("@once", {"__type": "CronExpression", "value": "@once"}, "Once, as soon as possible"),
        (
            "@continuous",
            {"__type": "CronExpression", "value": "@continuous"},
            "As frequently as possible, but only one run at a time.",
        ),
        ("@daily", {"__type": "CronExpression", "value": "@daily"}, "At 00:00"),
        ("@midnight", {"__type": "CronExpression", "value": "@midnight"}, ""),
        ("30 6 * * 1-5", {"__type": "CronExpression", "value": "30 6 * * 1-5"}, "At 06:30, Monday through Friday"),
        ("PT1H", {"__type": "TimeDelta", "days": 0, "seconds": 3600, "microseconds": 0}, ""),
        ("P1DT0.5S", {"__type": "TimeDelta", "days": 1, "seconds": 0, "microseconds": 500000}, ""),
        (
            "P1M",
            {
                "__type": "RelativeDelta", "years": 0, "months": 1, "days": 0, "leapdays": 0, "hours": 0,
                "minutes": 0, "seconds": 0, "microseconds": 0, "year": None, "month": None, "day": None,
                "hour": None, "minute": None, "second": None, "microsecond": None,
            },
            "",
        ),
        ({"datasets": ["s3://a"]}, {"__type": "CronExpression", "value": "Dataset"}, "Triggered by datasets"),
    ],
)
def test_wire_form_and_description(raw, wire, description):
    assert timetable.schedule_interval_wire(raw) == wire
    assert timetable.describe(raw) == description


def test_dataset_expression():
    assert timetable.dataset_expression({"datasets": ["s3://a", "s3://b"]}) == {"all": ["s3://a", "s3://b"]}
    assert timetable.dataset_expression("@daily") is None


def test_timedelta_wire():
    assert timetable.timedelta_wire(90061.5) == {"__type": "TimeDelta", "days": 1, "seconds": 3661, "microseconds": 500000}
    assert timetable.timedelta_wire(None) is None


# -- next run --------------------------------------------------------------------------------
def test_cron_catchup_first_run_is_the_first_interval_after_start():
    info = timetable.next_dagrun_info(Spec(), None, now=NOW)
    assert info == DagRunInfo(at(2024, 1, 2), DataInterval(at(2024, 1, 1), at(2024, 1, 2)))
    assert info.logical_date == at(2024, 1, 1)


def test_croniter_aliases_run_as_the_cron_they_stand_for():
    info = timetable.next_dagrun_info(Spec(schedule="@annually"), None, now=NOW)
    assert info.data_interval == DataInterval(at(2024, 1, 1), at(2025, 1, 1))
    info = timetable.next_dagrun_info(Spec(schedule="@midnight"), None, now=NOW)
    assert info.data_interval == DataInterval(at(2024, 1, 1), at(2024, 1, 2))


def test_cron_catchup_continues_after_the_last_run():
    last = DataInterval(at(2024, 1, 5), at(2024, 1, 6))
    assert timetable.next_dagrun_info(Spec(), last, now=NOW) == DagRunInfo(
        at(2024, 1, 7), DataInterval(at(2024, 1, 6), at(2024, 1, 7))
    )


def test_cron_unaligned_start_date_moves_to_the_next_boundary():
    info = timetable.next_dagrun_info(Spec(start_date=at(2024, 1, 1, 6)), None, now=NOW)
    assert info.data_interval == DataInterval(at(2024, 1, 2), at(2024, 1, 3))


def test_cron_without_catchup_runs_the_latest_complete_interval():
    info = timetable.next_dagrun_info(Spec(catchup=False), None, now=NOW)
    assert info == DagRunInfo(at(2024, 3, 10), DataInterval(at(2024, 3, 9), at(2024, 3, 10)))
    # An old last run does not bring the missed intervals back.
    old = DataInterval(at(2024, 1, 1), at(2024, 1, 2))
    assert timetable.next_dagrun_info(Spec(catchup=False), old, now=NOW).logical_date == at(2024, 3, 9)


def test_cron_without_catchup_on_a_boundary_starts_now():
    now = at(2024, 3, 10)
    info = timetable.next_dagrun_info(Spec(catchup=False), None, now=now)
    assert info.data_interval == DataInterval(at(2024, 3, 9), at(2024, 3, 10))


def test_cron_without_catchup_and_a_future_start_waits_for_it():
    info = timetable.next_dagrun_info(Spec(catchup=False, start_date=at(2024, 6, 1)), None, now=NOW)
    assert info.data_interval == DataInterval(at(2024, 6, 1), at(2024, 6, 2))


def test_end_date_stops_scheduling():
    spec = Spec(end_date=at(2024, 1, 3))
    assert timetable.next_dagrun_info(spec, DataInterval(at(2024, 1, 2), at(2024, 1, 3)), now=NOW).logical_date == at(2024, 1, 3)
    assert timetable.next_dagrun_info(spec, DataInterval(at(2024, 1, 3), at(2024, 1, 4)), now=NOW) is None


def test_no_start_date_never_schedules():
    assert timetable.next_dagrun_info(Spec(start_date=None), None, now=NOW) is None


def test_cron_in_the_dags_timezone():
    spec = Spec(timezone="Europe/Amsterdam", start_date=at(2024, 1, 1))
    info = timetable.next_dagrun_info(spec, None, now=NOW)
    # Local midnight is 23:00 UTC in winter.
    assert info.data_interval == DataInterval(at(2024, 1, 1, 23), at(2024, 1, 2, 23))


def test_delta_schedule_counts_from_the_start_date():
    spec = Spec(schedule="PT6H", start_date=at(2024, 1, 1, 1))
    assert timetable.next_dagrun_info(spec, None, now=NOW).data_interval == DataInterval(
        at(2024, 1, 1, 1), at(2024, 1, 1, 7)
    )
    last = DataInterval(at(2024, 1, 1, 1), at(2024, 1, 1, 7))
    assert timetable.next_dagrun_info(spec, last, now=NOW).data_interval == DataInterval(
        at(2024, 1, 1, 7), at(2024, 1, 1, 13)
    )


def test_delta_schedule_without_catchup_starts_one_period_before_now():
    spec = Spec(schedule="P1D", start_date=at(2024, 1, 1, 1), catchup=False)
    assert timetable.next_dagrun_info(spec, None, now=NOW).data_interval == DataInterval(
        at(2024, 3, 9, 12), at(2024, 3, 10, 12)
    )


def test_relativedelta_schedule_uses_calendar_months():
    spec = Spec(schedule="P1M", start_date=at(2024, 1, 31))
    assert timetable.next_dagrun_info(spec, None, now=NOW).data_interval == DataInterval(at(2024, 1, 31), at(2024, 2, 29))


def test_once_runs_at_the_start_date_only():
    spec = Spec(schedule="@once", catchup=False)
    info = timetable.next_dagrun_info(spec, None, now=NOW)
    assert info == DagRunInfo(at(2024, 1, 1), DataInterval(at(2024, 1, 1), at(2024, 1, 1)))
    assert timetable.next_dagrun_info(spec, info.data_interval, now=NOW) is None


def test_continuous_runs_from_the_last_end_to_now():
    spec = Spec(schedule="@continuous")
    first = timetable.next_dagrun_info(spec, None, now=NOW)
    assert first == DagRunInfo(NOW, DataInterval(at(2024, 1, 1), NOW))
    later = at(2024, 3, 10, 12, 5)
    assert timetable.next_dagrun_info(spec, first.data_interval, now=later) == DagRunInfo(later, DataInterval(NOW, later))


@pytest.mark.parametrize("schedule", [None, {"datasets": ["s3://a"]}])
def test_unscheduled_kinds_have_no_next_run(schedule):
    assert timetable.next_dagrun_info(Spec(schedule=schedule), None, now=NOW) is None
    assert timetable.next_dagrun_fields(Spec(schedule=schedule), None, now=NOW) == {
        "next_dagrun": None,
        "next_dagrun_data_interval_start": None,
        "next_dagrun_data_interval_end": None,
        "next_dagrun_create_after": None,
    }


def test_next_dagrun_fields():
    assert timetable.next_dagrun_fields(Spec(), None, now=NOW) == {
        "next_dagrun": at(2024, 1, 1),
        "next_dagrun_data_interval_start": at(2024, 1, 1),
        "next_dagrun_data_interval_end": at(2024, 1, 2),
        "next_dagrun_create_after": at(2024, 1, 2),
    }


# -- manual and inferred intervals -----------------------------------------------------------
@pytest.mark.parametrize(
    ("schedule", "run_after", "interval"),
    [
        ("@daily", at(2024, 1, 25, 1), (at(2024, 1, 24), at(2024, 1, 25))),
        ("@daily", at(2024, 1, 25), (at(2024, 1, 24), at(2024, 1, 25))),
        ("@hourly", at(2024, 1, 25, 1, 30), (at(2024, 1, 25, 0), at(2024, 1, 25, 1))),
        ("P1D", at(2024, 1, 25, 1), (at(2024, 1, 24, 1), at(2024, 1, 25, 1))),
        (None, at(2024, 1, 25, 1), (at(2024, 1, 25, 1), at(2024, 1, 25, 1))),
        ("@once", at(2024, 1, 25, 1), (at(2024, 1, 25, 1), at(2024, 1, 25, 1))),
        ({"datasets": ["s3://a"]}, at(2024, 1, 25, 1), (at(2024, 1, 25, 1), at(2024, 1, 25, 1))),
    ],
)
def test_infer_manual_data_interval(schedule, run_after, interval):
    assert timetable.infer_manual_data_interval(Spec(schedule=schedule), run_after) == DataInterval(*interval)


def test_infer_manual_data_interval_converts_to_utc():
    plus_two = dt.timezone(dt.timedelta(hours=2))
    interval = timetable.infer_manual_data_interval(Spec(schedule=None), dt.datetime(2024, 1, 25, 3, tzinfo=plus_two))
    assert interval == DataInterval(at(2024, 1, 25, 1), at(2024, 1, 25, 1))
    assert interval.start.tzinfo == UTC


@pytest.mark.parametrize(
    ("schedule", "interval"),
    [
        ("@daily", (at(2024, 1, 25), at(2024, 1, 26))),
        ("PT1H", (at(2024, 1, 25), at(2024, 1, 25, 1))),
        (None, (at(2024, 1, 25), at(2024, 1, 25))),
    ],
)
def test_infer_automated_data_interval(schedule, interval):
    assert timetable.infer_automated_data_interval(Spec(schedule=schedule), at(2024, 1, 25)) == DataInterval(*interval)
