"""`mimeia doctor`: does each server the platform uses answer, and how is it configured."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from mimeia import infra
from mimeia.ports import port_is_open
from mimeia.services import discover_services


@dataclass(frozen=True)
class Check:
    name: str
    target: str
    source: str
    ok: bool
    detail: str


@dataclass(frozen=True)
class _Dependency:
    name: str
    setting: Callable[[], infra.Setting]
    probe: Callable[[str], infra.Probe]
    start: Callable[[str], None]
    fix_hint: str


DEPENDENCIES = (
    _Dependency("redis", infra.redis_setting, infra.probe_redis, infra.start_redis,
                "start it with: redis-server --daemonize yes --save '' --appendonly no"),
    _Dependency("postgres", infra.postgres_setting, infra.probe_postgres, infra.start_postgres,
                "start it with: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) "
                "main start"),
)  # fmt: skip


def check_dependency(dep: _Dependency, start_missing: bool) -> Check:
    setting = dep.setting()
    probe = dep.probe(setting.url)
    if not probe.ok and start_missing:
        if not infra.is_local(setting.url):
            return Check(dep.name, infra.redact(setting.url), setting.source, False,
                         f"{probe.detail} (not local, so not started here)")  # fmt: skip
        print(
            f"-- {dep.name} does not answer at {infra.redact(setting.url)}; starting it", flush=True
        )
        try:
            dep.start(setting.url)
        except (infra.StartError, OSError) as exc:
            return Check(dep.name, infra.redact(setting.url), setting.source, False, str(exc))
        except Exception as exc:  # a failed apt-get or start command
            return Check(dep.name, infra.redact(setting.url), setting.source, False,
                         f"could not start it ({exc}); {dep.fix_hint}")  # fmt: skip
        infra.wait_until(lambda: dep.probe(setting.url).ok)
        if dep.name == "postgres":
            try:
                infra.ensure_database_exists(setting.url)
            except Exception as exc:
                return Check(dep.name, infra.redact(setting.url), setting.source, False, str(exc))
        probe = dep.probe(setting.url)
    detail = probe.detail if probe.ok else f"{probe.detail}; {dep.fix_hint}"
    return Check(dep.name, infra.redact(setting.url), setting.source, probe.ok, detail)


def check_services() -> list[Check]:
    checks = []
    for spec in discover_services():
        port = spec.port_from_env()
        env_key = f"MIMEIA_{spec.name.upper().replace('-', '_')}_PORT"
        source = f"env {env_key}" if env_key in os.environ else "default"
        up = port_is_open("127.0.0.1", port)
        detail = "answers" if up else "not running (start it with `mimeia up`)"
        checks.append(Check(spec.name, f"127.0.0.1:{port}", source, up, detail))
    return checks


def run(only: Sequence[str] = (), start_missing: bool = False) -> list[Check]:
    wanted = set(only)
    checks = [
        check_dependency(dep, start_missing)
        for dep in DEPENDENCIES
        if not wanted or dep.name in wanted
    ]
    if not wanted or wanted - {d.name for d in DEPENDENCIES}:
        checks += [c for c in check_services() if not wanted or c.name in wanted]
    return checks


def render(checks: Sequence[Check]) -> str:
    width = max((len(c.name) for c in checks), default=0)
    lines = []
    for c in checks:
        mark = "ok  " if c.ok else "DOWN"
        lines.append(f"{mark} {c.name:<{width}}  {c.target}  [{c.source}]  {c.detail}")
    return "\n".join(lines)
