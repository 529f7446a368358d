"""The alert rules and the Prometheus config are valid, and every alert fires when it should and only
then (`promtool test rules` on deploy/observability/tests/), with Debian's promtool (`make prometheus`)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from lx_devstack.services import GATEWAY, SERVICES

OBSERVABILITY = Path(__file__).resolve().parents[2] / "deploy" / "observability"


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("promtool")
    if binary is None:
        pytest.fail("promtool is missing: `make prometheus` installs Debian's prometheus package")
    return subprocess.run([binary, *args], capture_output=True, text=True, timeout=60, cwd=OBSERVABILITY, check=False)


def test_the_alert_rules_are_valid() -> None:
    done = promtool("check", "rules", "alerts.yml")
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_prometheus_config_is_valid() -> None:
    done = promtool("check", "config", "prometheus.yml")
    assert done.returncode == 0, done.stdout + done.stderr


def test_each_alert_fires_when_it_should_and_stays_quiet_otherwise() -> None:
    done = promtool("test", "rules", *(str(p) for p in sorted((OBSERVABILITY / "tests").glob("*_test.yml"))))
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_alert_has_a_firing_and_a_quiet_case() -> None:
    rules = re.findall(r"^\s+- alert: (\w+)", (OBSERVABILITY / "alerts.yml").read_text(), re.M)
    cases = (OBSERVABILITY / "tests" / "alerts_test.yml").read_text()
    for alert in rules:
        blocks = re.findall(rf"alertname: {alert}\n\s+exp_alerts:(.*?)(?=\n\s+- eval_time|\n\s+- name|\Z)", cases, re.S)
        assert any(b.strip() == "[]" for b in blocks), f"{alert} has no case where it stays quiet"
        assert any("exp_labels" in b for b in blocks), f"{alert} has no case where it fires"


def test_the_local_scrape_config_names_every_service_of_make_run() -> None:
    text = (OBSERVABILITY / "prometheus.yml").read_text()
    jobs = dict(re.findall(r"job_name: (\S+)\n\s+static_configs: \[\{targets: \[\"127\.0\.0\.1:(\d+)\"\]\}\]", text))
    expected = {s.name: str(8000 + (100 if s is not GATEWAY else 0) + s.port_offset) for s in (*SERVICES, GATEWAY)}
    assert jobs == expected
