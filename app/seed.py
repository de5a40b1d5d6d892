"""Seeding a database from a YAML or JSON file (`stableflow seed FILE`): roles, users, pools,
variables, connections, the pause state of parsed DAGs, and DAG runs whose task instances are in
the states a test wants to start from ("a run of etl where transform failed").

Everything goes through the code the API and the scheduler use: the same validation of pools,
variables and connections (an entry the API would refuse is refused), users' password hashing,
Fernet encryption of connection secrets, and for runs `app.runs` (trigger, then each try scheduled,
started and ended as the scheduler does, with its log). docs/testing.md describes the file.

`seed()` does not commit: the caller commits once, so a file with one bad entry changes nothing.
"""
from __future__ import annotations

import datetime as dt
import fnmatch
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import yaml
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app import connections as conn_rules
from app import runs
from app.config import Config
from app.dags.operations import set_paused
from app.dags.structure import load_dag_spec
from app.errors import ProblemError
from app.extensions import db
from app.models import Connection, DagModel, DagRun, Pool, Role, TaskInstance, User, Variable, utcnow
from app.passwords import hash_password
from app.queries import load_or_400, upsert
from app.runs import states as S
from app.runs.logs import format_log_line
from app.scheduler import simulation
from app.schemas.connection_schema import connection_body_schema
from app.schemas.pool_schema import pool_body_schema
from app.schemas.variable_schema import variable_body_schema
from app.users import UnknownRoles, create_user, roles_by_name

SECTIONS = ("roles", "users", "pools", "variables", "connections", "dags", "dag_runs")
USER_FIELDS = {"password", "roles", "email", "first_name", "last_name", "active"}
RUN_FIELDS = {"dag_id", "run_id", "logical_date", "run_type", "conf", "note", "state", "task_instances"}
# Task instance states a seed can set: each is what the scheduler leaves behind at some point.
TI_STATES = (
    "none", S.SCHEDULED, S.RUNNING, S.SUCCESS, S.FAILED, S.SKIPPED, S.UPSTREAM_FAILED, S.UP_FOR_RETRY,
)
SEED_HOSTNAME = "stableflow-seed"


class SeedError(Exception):
    """The seed file cannot be applied; the message names the entry."""


@dataclass
class SeedResult:
    counts: dict[str, int] = field(default_factory=dict)
    # Log lines of the tries played, written once the caller has committed.
    logs: list[tuple[SimpleNamespace, list[str]]] = field(default_factory=list)


# -- the file ----------------------------------------------------------------------------------
def read_seed_file(path: str | Path) -> dict:
    """The file's sections: JSON for `.json`, YAML (which also reads JSON) otherwise."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
        data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except OSError as exc:
        raise SeedError(f"Cannot read {path}: {exc.strerror}") from None
    except (ValueError, yaml.YAMLError) as exc:
        raise SeedError(f"{path} is not valid {'JSON' if path.suffix.lower() == '.json' else 'YAML'}: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise SeedError(f"{path} must hold a mapping of sections ({', '.join(SECTIONS)}), not {type(data).__name__}")
    unknown = sorted(set(data) - set(SECTIONS))
    if unknown:
        raise SeedError(f"{path}: unknown section(s) {unknown}; known: {list(SECTIONS)}")
    return data


def seed(data: Mapping, conf: Config) -> SeedResult:
    """Apply every section of `data` (read_seed_file's result) in dependency order; no commit."""
    result = SeedResult()
    seeders: dict[str, Callable] = {
        "roles": _seed_roles, "users": _seed_users, "pools": _seed_pools, "variables": _seed_variables,
        "connections": _seed_connections, "dags": _seed_dags, "dag_runs": _seed_dag_runs,
    }
    for section in SECTIONS:
        if data.get(section) is not None:
            result.counts[section] = seeders[section](data[section], conf, result)
            db.session.flush()
    return result


def _mapping(value, section: str) -> dict:
    if not isinstance(value, dict):
        raise SeedError(f"{section}: expected a mapping of names to entries, not {type(value).__name__}")
    return value


def _fields(entry, allowed: set[str], where: str) -> dict:
    if entry is None:
        return {}
    if not isinstance(entry, dict):
        raise SeedError(f"{where}: expected a mapping of fields, not {type(entry).__name__}")
    unknown = sorted(set(entry) - allowed)
    if unknown:
        raise SeedError(f"{where}: unknown field(s) {unknown}; known: {sorted(allowed)}")
    return entry


def _checked(where: str, fn: Callable, *args, **kwargs):
    """Run an API-side check; its 400 becomes a SeedError naming the entry."""
    try:
        return fn(*args, **kwargs)
    except ProblemError as exc:
        raise SeedError(f"{where}: {exc.detail or exc.title}") from None


# -- access --------------------------------------------------------------------------------------
def _seed_roles(entries, _conf, _result) -> int:
    """{role: [[action, resource], ...]}: the role is created if missing and given the permissions
    (those it has are kept, as PATCH /roles does)."""
    from app.endpoints.role_and_permission_endpoint import _permissions  # the API's own check

    for name, pairs in _mapping(entries, "roles").items():
        where = f"roles.{name}"
        if not isinstance(pairs, list) or not all(
            isinstance(p, list) and len(p) == 2 and all(isinstance(x, str) for x in p) for p in pairs
        ):
            raise SeedError(f"{where}: expected a list of [action, resource] pairs, e.g. [[can_read, DAGs]]")
        permissions = _checked(where, _permissions, [tuple(pair) for pair in pairs])
        role = db.session.execute(select(Role).where(Role.name == str(name))).scalar()
        if role is None:
            role = Role(name=str(name), permissions=[])
            db.session.add(role)
        have = {p.id for p in role.permissions}
        role.permissions.extend(p for p in permissions if p.id not in have)
    return len(entries)


def _seed_users(entries, _conf, _result) -> int:
    """{username: {password, roles, email, first_name, last_name, active}}: created (roles default
    to Public, as POST /users), or updated with the fields given."""
    for username, entry in _mapping(entries, "users").items():
        where = f"users.{username}"
        fields = dict(_fields(entry, USER_FIELDS, where))
        user = db.session.execute(select(User).where(User.username == str(username))).scalar()
        try:
            if user is None:
                if not fields.get("password"):
                    raise SeedError(f"{where}: a new user needs a password")
                create_user(
                    str(username), str(fields["password"]), roles=fields.get("roles") or ["Public"],
                    email=fields.get("email"), first_name=fields.get("first_name", ""),
                    last_name=fields.get("last_name", ""), active=fields.get("active", True),
                )
                continue
            if "password" in fields:
                user.password = hash_password(str(fields.pop("password")))
            if "roles" in fields:
                user.roles = roles_by_name(fields.pop("roles") or [])
        except UnknownRoles as exc:
            raise SeedError(f"{where}: {exc}") from None
        except IntegrityError:
            raise SeedError(f"{where}: the username or email is taken") from None
        for name, value in fields.items():
            setattr(user, name, value)
    return len(entries)


# -- resources -----------------------------------------------------------------------------------
def _seed_pools(entries, _conf, _result) -> int:
    """{name: {slots, description, include_deferred}} (Airflow's `pools export` layout)."""
    for name, entry in _mapping(entries, "pools").items():
        where = f"pools.{name}"
        body = {"name": str(name), **_fields(entry, {"slots", "description", "include_deferred"}, where)}
        if "slots" not in body:
            raise SeedError(f"{where}: slots is required")
        data = _checked(where, load_or_400, pool_body_schema, body)
        pool = db.session.execute(select(Pool).where(Pool.pool == data["name"])).scalar() or Pool(pool=data["name"])
        pool.slots = data["slots"]
        pool.description = data.get("description")
        pool.include_deferred = data.get("include_deferred", False)
        db.session.add(pool)
    return len(entries)


def _variable_entries(entries) -> list[dict]:
    if isinstance(entries, dict):  # Airflow's `variables export` layout: {key: value}
        return [{"key": str(key), "value": value} for key, value in entries.items()]
    if isinstance(entries, list) and all(isinstance(entry, dict) for entry in entries):
        return entries
    raise SeedError("variables: expected {key: value} or a list of {key, value, description}")


def _seed_variables(entries, _conf, _result) -> int:
    """{key: value}, or [{key, value, description}]; values that are not strings are stored as
    JSON, as `variables import` stores them."""
    variables = _variable_entries(entries)
    for index, entry in enumerate(variables):
        where = f"variables.{entry.get('key', index)}"
        entry = dict(_fields(entry, {"key", "value", "description"}, where))
        if not isinstance(entry.get("value"), str) and "value" in entry:
            entry["value"] = json.dumps(entry["value"])
        data = _checked(where, load_or_400, variable_body_schema, entry)
        upsert(Variable, {"key": data["key"], "val": data["value"], "description": data.get("description")}, key=["key"])
    return len(variables)


def _seed_connections(entries, conf, _result) -> int:
    """{conn_id: {conn_type, description, host, login, password, schema, port, extra}} (Airflow's
    `connections export` layout); an `extra` mapping is stored as its JSON text."""
    allowed = set(conn_rules.FIELDS) - {"connection_id"}
    for conn_id, entry in _mapping(entries, "connections").items():
        where = f"connections.{conn_id}"
        body = {"connection_id": str(conn_id), **_fields(entry, allowed, where)}
        if isinstance(body.get("extra"), dict):
            body["extra"] = json.dumps(body["extra"])
        data = _checked(where, load_or_400, connection_body_schema, body)
        _checked(where, conn_rules.check_conn_id, data["connection_id"])
        conn = db.session.execute(select(Connection).where(Connection.conn_id == data["connection_id"])).scalar()
        conn = conn or Connection()
        conn_rules.assign(conn, {name: data.get(name) for name in conn_rules.FIELDS}, conf)
        db.session.add(conn)
    return len(entries)


# -- DAGs and runs -------------------------------------------------------------------------------
def _seed_dags(entries, _conf, _result) -> int:
    """{dag_id or glob: {is_paused: bool}}, for DAGs parsed from the DAG folder."""
    known = list(db.session.execute(select(DagModel.dag_id).where(DagModel.is_active).order_by(DagModel.dag_id)).scalars())
    changed = 0
    for pattern, entry in _mapping(entries, "dags").items():
        where = f"dags.{pattern}"
        fields = _fields(entry, {"is_paused"}, where)
        if not isinstance(fields.get("is_paused"), bool):
            raise SeedError(f"{where}: is_paused (true or false) is required")
        ids = [dag_id for dag_id in known if fnmatch.fnmatchcase(dag_id, str(pattern))]
        if not ids:
            raise SeedError(f"{where}: no parsed DAG matches; DAGs: {known}")
        set_paused(ids, fields["is_paused"])
        changed += len(ids)
    return changed


def _datetime(value, where: str) -> dt.datetime:
    """A YAML date or timestamp, or ISO 8601 text; without an offset it is UTC."""
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        value = dt.datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value[:-1] + "+00:00" if value[-1:] in "Zz" else value)
        except ValueError:
            raise SeedError(f"{where}: {value!r} is not an ISO 8601 date-time") from None
    elif not isinstance(value, dt.datetime):
        raise SeedError(f"{where}: expected a date-time, not {type(value).__name__}")
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


def _wanted_states(entry, tis: list[TaskInstance], where: str) -> dict[int, str]:
    """task_id -> state (every map index) or {map_index: state}, as {task instance id: state}."""
    by_task: dict[str, dict[int, TaskInstance]] = {}
    for ti in tis:
        by_task.setdefault(ti.task_id, {})[ti.map_index] = ti
    wanted = {}
    for task_id, value in _mapping(entry or {}, f"{where}.task_instances").items():
        indexes = by_task.get(str(task_id))
        if indexes is None:
            raise SeedError(f"{where}: the DAG has no task {task_id!r}; tasks: {sorted(by_task)}")
        per_index = value if isinstance(value, dict) else dict.fromkeys(indexes, value)
        for index, state in per_index.items():
            ti = indexes.get(int(index)) if str(index).lstrip("-").isdigit() else None
            if ti is None:
                raise SeedError(f"{where}: task {task_id!r} has no map index {index!r}; map indexes: {sorted(indexes)}")
            state = "none" if state is None else str(state)
            if state not in TI_STATES:
                raise SeedError(f"{where}: task {task_id!r}: state {state!r} cannot be seeded; use one of {list(TI_STATES)}")
            wanted[ti.id] = state
    return wanted


def _run_state(entry: dict, tis: list[TaskInstance], where: str) -> str:
    """The run's state as given, or as the scheduler would see it: queued when no task has a state,
    failed or success when every task instance has finished, running otherwise."""
    state = entry.get("state")
    if state is not None:
        if state not in S.DAG_RUN_STATES:
            raise SeedError(f"{where}: run state {state!r} is not one of {list(S.DAG_RUN_STATES)}")
        return state
    if not entry.get("task_instances"):
        return S.QUEUED
    if all(S.is_finished(ti.state) for ti in tis):
        return S.FAILED if any(ti.state in (S.FAILED, S.UPSTREAM_FAILED) for ti in tis) else S.SUCCESS
    return S.RUNNING


def _seed_dag_runs(entries, conf, result: SeedResult) -> int:
    """[{dag_id, run_id, logical_date, run_type, conf, note, state, task_instances}]."""
    if not isinstance(entries, list):
        raise SeedError("dag_runs: expected a list of runs")
    now = utcnow()
    speed = conf.getfloat("scheduler", "simulation_speed")
    for index, entry in enumerate(entries):
        where = f"dag_runs[{index}]"
        entry = _fields(entry, RUN_FIELDS, where)
        if not entry.get("dag_id"):
            raise SeedError(f"{where}: dag_id is required")
        where = f"{where} ({entry['dag_id']})"
        if entry.get("logical_date") is not None:
            logical_date = _datetime(entry["logical_date"], where)
        else:  # now, but never the same instant for two runs of one file (logical dates are unique)
            logical_date = now + dt.timedelta(microseconds=index)
        run = _checked(
            where, runs.trigger_dag_run, str(entry["dag_id"]), run_id=entry.get("run_id"), logical_date=logical_date,
            conf=entry.get("conf"), note=entry.get("note"), run_type=entry.get("run_type", "manual"), now=now,
        )
        tis = runs.run_task_instances(run)
        wanted = _wanted_states(entry.get("task_instances"), tis, where)
        spec = load_dag_spec(run.dag_id)
        for ti in tis:
            if ti.id in wanted:
                _play(ti, wanted[ti.id], spec, run, now, speed, result, where)
        state = _run_state(entry, tis, where)
        if state != S.QUEUED:
            runs.mark_run_state(run, S.RUNNING, now)
            runs.mark_run_state(run, state, now)
    return len(entries)


def _play(ti: TaskInstance, state: str, spec, run: DagRun, now: dt.datetime, speed: float,
          result: SeedResult, where: str) -> None:
    """Bring a task instance to `state` the way the scheduler would have: tries that ran are
    scheduled, started and ended, with a log; skipped and upstream_failed ones never ran."""
    if state == "none":
        return
    if state in (S.SKIPPED, S.UPSTREAM_FAILED):
        runs.mark_ti_state(ti, state, now)
        return
    runs.mark_scheduled(ti)
    if state == S.SCHEDULED:
        return
    task = spec.task(ti.task_id)
    runs.mark_running(ti, now, hostname=SEED_HOSTNAME)
    ti.queued_dttm = now
    lines = [format_log_line(f"Seeded by stableflow seed: {state}", when=now)]
    if state == S.RUNNING:
        # No scheduler owns the try yet: the first one to loop adopts it and ends it as planned.
        ti.next_event_at = now + dt.timedelta(seconds=simulation.wall_seconds(simulation.plan_try(task, ti).duration, speed))
    elif state == S.UP_FOR_RETRY:
        if ti.try_number > ti.max_tries:
            raise SeedError(f"{where}: task {ti.task_id!r} has no retries left, so it cannot be up_for_retry")
        runs.archive_tries([ti], now)
        runs.mark_ti_state(ti, S.UP_FOR_RETRY, now)
        delay = simulation.retry_delay(task, ti, run.execution_date)
        ti.next_event_at = now + dt.timedelta(seconds=simulation.wall_seconds(delay, speed))
    else:
        runs.mark_ti_state(ti, state, now)
    ref = SimpleNamespace(dag_id=ti.dag_id, run_id=ti.run_id, task_id=ti.task_id, map_index=ti.map_index,
                          try_number=ti.try_number)
    result.logs.append((ref, lines))
