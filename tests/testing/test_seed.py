"""`stableflow seed FILE...`: every kind of entity, the task states a run can be seeded with, and
files that change nothing because one entry is wrong."""
from __future__ import annotations

import datetime as dt
import json
import textwrap

import pytest
from click.testing import CliRunner
from cryptography.fernet import Fernet
from sqlalchemy import select

from app.cli import cli, main
from app.extensions import db
from app.models import Connection, DagRun, Pool, TaskInstance, TaskInstanceHistory, User, Variable, utcnow
from tests.conftest import FERNET_KEY, basic_auth, database_url

PIPELINE = """\
dag_id: pipeline
start_date: 2024-01-01
tasks:
  - {task_id: extract, duration: 60}
  - {task_id: transform, upstream: [extract], expand: {part: [a, b, c]}}
  - {task_id: load, upstream: [transform], retries: 2, retry_delay: 120}
"""
OTHER = "dag_id: other\ntasks: [{task_id: only}]\n"


@pytest.fixture
def seed_dir(app, tmp_path, monkeypatch):
    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / "pipeline.yaml").write_text(PIPELINE)
    (dags / "other.yaml").write_text(OTHER)
    monkeypatch.setenv("STABLEFLOW_HOME", str(tmp_path))
    monkeypatch.setenv("STABLEFLOW__DATABASE__SQL_ALCHEMY_CONN", database_url())
    monkeypatch.setenv("STABLEFLOW__CORE__FERNET_KEY", FERNET_KEY)
    monkeypatch.setenv("STABLEFLOW__WEBSERVER__SECRET_KEY", "test-secret-key")
    monkeypatch.setenv("STABLEFLOW__CORE__DAGS_FOLDER", str(dags))
    monkeypatch.setenv("STABLEFLOW__CORE__LOAD_EXAMPLES", "False")
    # The API app of the tests reads task logs there.
    monkeypatch.setenv("STABLEFLOW__LOGGING__BASE_LOG_FOLDER", app.extensions["stableflow.conf"].get("logging", "base_log_folder"))
    monkeypatch.setenv("STABLEFLOW__SCHEDULER__SIMULATION_SPEED", "2")
    return tmp_path


def seed(seed_dir, text: str, *, code: int = 0, name: str = "seed.yaml") -> str:
    path = seed_dir / name
    path.write_text(textwrap.dedent(text))
    result = CliRunner().invoke(cli, ["seed", str(path)])
    assert result.exit_code == code, result.output
    return result.output


def get(client, path, auth=("admin",)):
    response = client.get(f"/api/v1{path}", headers=basic_auth(*auth))
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.json


def tis(app, run_id: str) -> dict[str, tuple]:
    with app.app_context():
        rows = db.session.execute(select(TaskInstance).where(TaskInstance.run_id == run_id)).scalars()
        found = {
            (ti.task_id if ti.map_index < 0 else f"{ti.task_id}[{ti.map_index}]"): (ti.state, ti.try_number) for ti in rows
        }
        db.session.remove()
    return found


# -- entities ----------------------------------------------------------------------------------
def test_roles_and_users(seed_dir, client):
    output = seed(seed_dir, """\
        roles:
          etl_operator: [[can_read, DAGs], [can_edit, "DAG:pipeline"]]
        users:
          alice: {password: alice-pw, roles: [etl_operator, Viewer], email: alice@example.com,
                  first_name: Alice, last_name: Liddell}
          bob: {password: bob-pw}
          viewer: {first_name: Renamed}
        """)
    assert output == "Seeded 1 roles, 3 users\n"
    role = get(client, "/roles/etl_operator")
    assert role == {
        "name": "etl_operator",
        "actions": [
            {"action": {"name": "can_read"}, "resource": {"name": "DAGs"}},
            {"action": {"name": "can_edit"}, "resource": {"name": "DAG:pipeline"}},
        ],
    }
    alice = get(client, "/users/alice")
    # The seed parsed the DAG folder first; alice may read every DAG.
    assert [d["dag_id"] for d in get(client, "/dags", auth=("alice", "alice-pw"))["dags"]] == ["other", "pipeline"]
    assert {k: alice[k] for k in ("email", "first_name", "last_name", "active")} == {
        "email": "alice@example.com", "first_name": "Alice", "last_name": "Liddell", "active": True,
    }
    assert sorted(role["name"] for role in alice["roles"]) == ["Viewer", "etl_operator"]
    assert client.get("/api/v1/pools", headers=basic_auth("bob", "bob-pw")).status_code == 403  # Public role
    assert get(client, "/users/viewer")["first_name"] == "Renamed"
    assert client.get("/api/v1/pools", headers=basic_auth("viewer")).status_code == 200  # password kept


def test_pools_variables_and_connections(app, seed_dir, client):
    seed(seed_dir, """\
        pools:
          etl: {slots: 4, description: ETL, include_deferred: true}
          default_pool: {slots: 8}
        variables:
          plain: text
          structured: {a: [1, 2]}
          number: 3
        connections:
          warehouse:
            conn_type: postgres
            host: db.example.com
            port: 5432
            login: etl
            password: s3cret
            schema: analytics
            extra: {sslmode: require, token: t0k}
        """)
    pools = get(client, "/pools")["pools"]
    assert [(p["name"], p["slots"], p["description"], p["include_deferred"]) for p in pools] == [
        ("default_pool", 8, None, False), ("etl", 4, "ETL", True),
    ]
    assert get(client, "/variables")["variables"] == [
        {"key": "plain", "value": "text", "description": None},
        {"key": "structured", "value": '{"a": [1, 2]}', "description": None},
        {"key": "number", "value": "3", "description": None},
    ]
    assert get(client, "/connections/warehouse") == {
        "connection_id": "warehouse", "conn_type": "postgres", "description": None, "host": "db.example.com",
        "login": "etl", "schema": "analytics", "port": 5432, "extra": '{"sslmode": "require", "token": "***"}',
    }
    with app.app_context():
        conn = db.session.execute(select(Connection)).scalar_one()
        # Encrypted at rest, as the API stores it.
        assert Fernet(FERNET_KEY.encode()).decrypt(conn.password.encode()) == b"s3cret"
        db.session.remove()


def test_variables_as_a_list_with_descriptions(seed_dir, client):
    seed(seed_dir, """\
        variables:
          - {key: env, value: test, description: where we are}
        """)
    assert get(client, "/variables/env") == {"key": "env", "value": "test", "description": "where we are"}


def test_dag_pause_states_by_id_and_by_pattern(seed_dir, client):
    assert seed(seed_dir, "dags: {'*': {is_paused: false}, other: {is_paused: true}}\n") == "Seeded 3 dags\n"
    dags = get(client, "/dags")["dags"]
    assert {d["dag_id"]: d["is_paused"] for d in dags} == {"other": True, "pipeline": False}


# -- runs --------------------------------------------------------------------------------------
def test_a_run_that_failed_at_a_task(app, seed_dir, client):
    seed(seed_dir, """\
        dag_runs:
          - dag_id: pipeline
            run_id: failed_at_load
            logical_date: 2024-01-02
            conf: {source: seed}
            note: load breaks
            task_instances: {extract: success, transform: success, load: failed}
        """)
    run = get(client, "/dags/pipeline/dagRuns/failed_at_load")
    assert {k: run[k] for k in ("state", "logical_date", "conf", "note", "run_type", "external_trigger")} == {
        "state": "failed", "logical_date": "2024-01-02T00:00:00+00:00", "conf": {"source": "seed"},
        "note": "load breaks", "run_type": "manual", "external_trigger": True,
    }
    assert run["start_date"] is not None
    assert run["end_date"] is not None
    assert tis(app, "failed_at_load") == {
        "extract": ("success", 1), "transform[0]": ("success", 1), "transform[1]": ("success", 1),
        "transform[2]": ("success", 1), "load": ("failed", 1),
    }
    log = client.get(
        "/api/v1/dags/pipeline/dagRuns/failed_at_load/taskInstances/load/logs/1",
        headers={**basic_auth("admin"), "Accept": "text/plain"},
    )
    assert "Seeded by stableflow seed: failed" in log.get_data(as_text=True)


def test_every_task_state_and_map_indexes(app, seed_dir):
    before = utcnow()
    seed(seed_dir, """\
        dag_runs:
          - dag_id: pipeline
            run_id: mixed
            task_instances:
              extract: running
              transform: {0: scheduled, "1": skipped, 2: none}
              load: upstream_failed
          - dag_id: pipeline
            run_id: retrying
            task_instances: {extract: success, transform: success, load: up_for_retry}
        """)
    assert tis(app, "mixed") == {
        "extract": ("running", 1), "transform[0]": ("scheduled", 1), "transform[1]": ("skipped", 0),
        "transform[2]": (None, 0), "load": ("upstream_failed", 0),
    }
    assert tis(app, "retrying")["load"] == ("up_for_retry", 1)
    with app.app_context():
        runs = dict(db.session.execute(select(DagRun.run_id, DagRun.state)).all())
        assert runs == {"mixed": "running", "retrying": "running"}
        extract = db.session.execute(select(TaskInstance).where(TaskInstance.run_id == "mixed", TaskInstance.task_id == "extract")).scalar_one()
        # Not owned by any scheduler: the first one to loop adopts it and ends it 60 s / speed 2 later.
        assert (extract.queued_by_job_id, extract.hostname) == (None, "stableflow-seed")
        assert dt.timedelta(seconds=29) < extract.next_event_at - before < dt.timedelta(seconds=31)
        load = db.session.execute(select(TaskInstance).where(TaskInstance.run_id == "retrying", TaskInstance.task_id == "load")).scalar_one()
        assert dt.timedelta(seconds=59) < load.next_event_at - before < dt.timedelta(seconds=61)
        # The failed try is in the history, as the scheduler leaves it before a retry.
        history = db.session.execute(select(TaskInstanceHistory.task_id, TaskInstanceHistory.state)).all()
        assert [tuple(row) for row in history] == [("load", "failed")]
        db.session.remove()


def test_run_state_is_derived_or_given(app, seed_dir):
    seed(seed_dir, """\
        dag_runs:
          - {dag_id: pipeline, run_id: untouched}
          - {dag_id: pipeline, run_id: all_done, task_instances: {extract: success, transform: success, load: success}}
          - {dag_id: pipeline, run_id: halfway, task_instances: {extract: success}}
          - {dag_id: pipeline, run_id: forced, state: failed, task_instances: {extract: success}}
        """)
    with app.app_context():
        runs = dict(db.session.execute(select(DagRun.run_id, DagRun.state)).all())
        db.session.remove()
    assert runs == {"untouched": "queued", "all_done": "success", "halfway": "running", "forced": "failed"}


def test_a_seeded_running_try_is_finished_by_the_scheduler(app, seed_dir, scheduler):
    seed(seed_dir, """\
        dags: {pipeline: {is_paused: false}}
        dag_runs: [{dag_id: pipeline, run_id: r1, task_instances: {extract: running}}]
        """)
    with app.app_context():
        scheduler.clock.now = utcnow() + dt.timedelta(minutes=5)
        scheduler.loop.speed = 2
        scheduler.run_until_idle()
        assert scheduler.states("r1", "pipeline")["extract"] == "success"
        assert scheduler.run_row("r1").state == "success"
        db.session.remove()


def test_json_files_and_several_files_in_order(seed_dir, client):
    (seed_dir / "first.json").write_text(json.dumps({"pools": {"p": {"slots": 1}}}))
    (seed_dir / "second.yaml").write_text("pools: {p: {slots: 2}}\n")
    result = CliRunner().invoke(cli, ["seed", str(seed_dir / "first.json"), str(seed_dir / "second.yaml")])
    assert result.output == "Seeded 2 pools\n"
    assert get(client, "/pools/p")["slots"] == 2


# -- mistakes ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[1, 2]\n", "must hold a mapping of sections"),
        ("pool: {}\n", "unknown section(s) ['pool']"),
        ("pools: {p: {slots: -5}}\n", "pools.p: {'slots': ['Slots must be -1"),
        ("pools: {p: {slots: 1, colour: red}}\n", "pools.p: unknown field(s) ['colour']"),
        ("users: {carol: {roles: [Viewer]}}\n", "users.carol: a new user needs a password"),
        ("users: {carol: {password: x, roles: [Nope]}}\n", "users.carol: Unknown roles: 'Nope'"),
        ("roles: {r: [[can_fly, DAGs]]}\n", "roles.r: The specified action: 'can_fly' was not found"),
        ("roles: {r: [can_read]}\n", "roles.r: expected a list of [action, resource] pairs"),
        ("connections: {'bad id!': {conn_type: http}}\n", "connections.bad id!: The key 'bad id!' has to be made of"),
        ("connections: {c: {host: h}}\n", "connections.c: {'conn_type': ['Missing data for required field.']}"),
        ("dags: {nothing*: {is_paused: false}}\n", "dags.nothing*: no parsed DAG matches"),
        ("dag_runs: [{dag_id: ghost}]\n", "dag_runs[0] (ghost): DAG with dag_id: 'ghost' not found"),
        ("dag_runs: [{dag_id: pipeline, task_instances: {nope: success}}]\n", "the DAG has no task 'nope'"),
        ("dag_runs: [{dag_id: pipeline, task_instances: {transform: {7: success}}}]\n", "has no map index 7"),
        ("dag_runs: [{dag_id: pipeline, task_instances: {extract: deferred}}]\n", "state 'deferred' cannot be seeded"),
        ("dag_runs: [{dag_id: pipeline, state: paused}]\n", "run state 'paused' is not one of"),
        ("dag_runs: [{dag_id: pipeline, logical_date: soon}]\n", "'soon' is not an ISO 8601 date-time"),
        ("dag_runs: [{dag_id: pipeline, task_instances: {extract: up_for_retry}}]\n", "'extract' has no retries left"),
        (
            "dag_runs: [{dag_id: pipeline, run_id: x, logical_date: 2024-01-01}, {dag_id: pipeline, run_id: x}]\n",
            "dag_runs[1] (pipeline): DAGRun with DAG ID: 'pipeline' and DAGRun ID: 'x' already exists",
        ),
    ],
)
def test_a_bad_entry_seeds_nothing(app, seed_dir, text, message):
    good = "pools: {first: {slots: 1}}\nvariables: {v: 1}\n"
    output = seed(seed_dir, good + text if not text.startswith(("[", "pool:")) else text, code=1)
    assert message in output
    with app.app_context():
        assert db.session.execute(select(Pool.pool)).scalars().all() == ["default_pool"]
        assert db.session.execute(select(Variable)).first() is None
        assert db.session.execute(select(DagRun)).first() is None
        assert db.session.execute(select(User.username).where(User.username == "carol")).first() is None
        db.session.remove()


def test_a_missing_file(seed_dir):
    result = CliRunner().invoke(cli, ["seed", str(seed_dir / "nope.yaml")])
    assert result.exit_code == 2
    assert "does not exist" in result.output


def fresh_home_with_a_seed_file(tmp_path, monkeypatch) -> None:
    """A home whose SQLite file was never migrated, and `seed.yaml` with one pool."""
    monkeypatch.setenv("STABLEFLOW_HOME", str(tmp_path))
    monkeypatch.setenv("STABLEFLOW__DATABASE__SQL_ALCHEMY_CONN", f"sqlite:///{tmp_path}/fresh.db")
    monkeypatch.setenv("STABLEFLOW__CORE__DAGS_FOLDER", str(tmp_path / "dags"))
    monkeypatch.setenv("STABLEFLOW__CORE__LOAD_EXAMPLES", "False")
    (tmp_path / "seed.yaml").write_text("pools: {p: {slots: 3}}\n")


def test_migrate_first(tmp_path, monkeypatch):
    fresh_home_with_a_seed_file(tmp_path, monkeypatch)
    result = CliRunner().invoke(cli, ["seed", "--migrate", str(tmp_path / "seed.yaml")])
    assert (result.exit_code, result.stdout) == (0, "Seeded 1 pools\n")


def test_without_a_schema_the_command_names_the_fix_instead_of_a_traceback(tmp_path, monkeypatch):
    fresh_home_with_a_seed_file(tmp_path, monkeypatch)
    monkeypatch.setattr("sys.argv", ["stableflow", "seed", str(tmp_path / "seed.yaml")])
    # main() (the console script), not cli: it turns database errors into one line. Click's
    # isolation gives it streams that stay open for the log handler it sets up.
    with CliRunner().isolation() as (_stdout, stderr, _output), pytest.raises(SystemExit) as exited:
        main()
    assert exited.value.code == 1
    assert stderr.getvalue().decode().splitlines()[-1] == (
        "error: no such table: dag_code: the database has no stableflow schema, or an older one; "
        "run `stableflow db migrate`"
    )
