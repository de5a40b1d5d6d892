"""The code under test: a small client of Airflow's REST API that retries what can be retried."""
from __future__ import annotations

import time

import requests

RETRIED_STATUSES = (502, 503, 504)


class PipelineClient:
    def __init__(self, api_url: str, auth: tuple[str, str], *, retries: int = 3, backoff: float = 0.05,
                 timeout: float = 5.0):
        self.api_url = api_url
        self.retries = retries
        self.backoff = backoff
        self.timeout = timeout
        self.session = requests.Session()
        self.session.auth = auth
        self.attempts = 0  # requests sent, retries included
        self.last_attempts = 0  # those of the latest call

    def _request(self, method: str, path: str, **kwargs) -> requests.Response:
        """Send, retrying connection errors, timeouts and 502/503/504 answers."""
        for attempt in range(self.retries + 1):
            self.attempts += 1
            self.last_attempts = attempt + 1
            last = attempt == self.retries
            try:
                response = self.session.request(method, self.api_url + path, timeout=self.timeout, **kwargs)
            except (requests.ConnectionError, requests.Timeout):
                if last:
                    raise
            else:
                if response.status_code not in RETRIED_STATUSES or last:
                    return response
            time.sleep(self.backoff * 2**attempt)
        raise AssertionError("unreachable")

    def trigger(self, dag_id: str, run_id: str) -> dict:
        """Trigger a run once: a retry that finds the run already created (the first try went
        through but its answer was lost) counts as success."""
        response = self._request("POST", f"/dags/{dag_id}/dagRuns", json={"dag_run_id": run_id})
        if response.status_code == 409 and self.last_attempts > 1:
            response = self._request("GET", f"/dags/{dag_id}/dagRuns/{run_id}")
        response.raise_for_status()
        return response.json()

    def failed_tasks(self, dag_id: str, run_id: str) -> list[str]:
        response = self._request("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances", params={"state": "failed"})
        response.raise_for_status()
        return sorted({ti["task_id"] for ti in response.json()["task_instances"]})
