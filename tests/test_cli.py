"""The `registry` command in real processes on the embedded PostgreSQL: data outlives each process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.factories import credit_code


def registry(
    data_dir: Path, *args: str, stdin: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    environment.update({"REGISTRY_DATA_DIR": str(data_dir)}, **(env or {}))
    return subprocess.run(
        [sys.executable, "-m", "registry", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=environment,
        timeout=120,
        check=False,
    )


def test_embedded_database_keeps_data_between_runs(tmp_path: Path) -> None:
    data = tmp_path / "registry-data"
    migrated = registry(data, "--json", "migrate")
    assert migrated.returncode == 0, migrated.stderr
    assert "0001_init.sql" in json.loads(migrated.stdout)["applied"]

    code = credit_code()
    created = registry(data, "agency", "create", "--name", "安心催收", "--credit-code", code, "--json")
    assert created.returncode == 0, created.stderr
    agency = json.loads(created.stdout)
    assert agency["credit_code"] == code and agency["status"] == "active"

    key = json.loads(registry(data, "--json", "key", "create", "--agency", agency["agency_id"]).stdout)
    assert key["key"].startswith("rk_") and key["key_id"]

    # A new process (the embedded server was stopped when the last one exited) still sees it.
    listed = json.loads(registry(data, "--json", "agency", "list").stdout)
    assert [a["agency_id"] for a in listed["agencies"]] == [agency["agency_id"]]
    assert json.loads(registry(data, "--json", "migrate").stdout)["applied"] == []

    suspended = registry(data, "agency", "suspend", agency["agency_id"])
    assert suspended.returncode == 0 and "suspended" in suspended.stdout

    verified = registry(data, "--json", "audit", "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert json.loads(verified.stdout) == {"ok": True, "rows": 3}

    purged = registry(data, "--json", "retention")
    assert purged.returncode == 0, purged.stderr
    assert json.loads(purged.stdout)["purged"]["checks"] == 0
    assert json.loads(registry(data, "--json", "audit", "verify").stdout) == {"ok": True, "rows": 4}


def test_bad_input_is_a_clear_error(tmp_path: Path) -> None:
    bad_code = registry(tmp_path, "agency", "create", "--name", "X", "--credit-code", "123")
    assert bad_code.returncode == 1
    assert "credit_code" in bad_code.stderr and "18 characters" in bad_code.stderr

    bad_env = registry(tmp_path, "migrate", env={"REGISTRY_PORT": "eighty"})
    assert bad_env.returncode == 2
    assert "REGISTRY_PORT" in bad_env.stderr
