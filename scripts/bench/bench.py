#!/usr/bin/env python3
"""The load runs behind `scripts/bench.sh`: the real server on SQLite and on PostgreSQL, and the
reference servers of ../shared/bench/anchor when they are built, in one run on one machine.

It starts each server on loopback, seeds it through the API, drives it with wrk, reads resident
memory from /proc/PID/status, and writes the figures into docs/performance.md (between the
markers) with a chart, docs/bench.png. Every run is bounded: BENCH_SECONDS per load shape (10 by
default) and BENCH_IDLE_SECONDS of idling after the login storm (30).

Run it through scripts/bench.sh, which builds everything first.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FORGE = ROOT / "target" / "release" / "forge"
ARGON2_COST = ROOT / "target" / "release" / "examples" / "argon2_cost"
LUA = Path(__file__).resolve().parent / "wrk.lua"
DOC = ROOT / "docs" / "performance.md"
CHART = ROOT / "docs" / "bench.png"
RESULTS = ROOT / "target" / "bench" / "results.json"
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"

SECONDS = int(os.environ.get("BENCH_SECONDS", "10"))
IDLE_SECONDS = int(os.environ.get("BENCH_IDLE_SECONDS", "30"))
PORT = int(os.environ.get("BENCH_PORT", "18090"))
PG_HOST = os.environ.get("BENCH_PG_HOST", "127.0.0.1")
PG_PORT = os.environ.get("BENCH_PG_PORT", "5432")
PG_USER = os.environ.get("BENCH_PG_USER", "postgres")
ANCHOR_BIN = os.environ.get("ANCHOR_BIN", "")
DATABASES = [d for d in os.environ.get("BENCH_DATABASES", "sqlite,postgres,postgres+redis").split(",") if d]
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379")
LABELS = {"sqlite": "SQLite", "postgres": "PostgreSQL", "postgres+redis": "PostgreSQL + Redis"}

PASSWORD = "Analytical-Engine-1843!"
JWT_SECRET = "bench-signing-key-q8Zr2LkP0vXw7NcT4yHb9MfJ3sDg6AeU"
SEED_USERS = 60


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


# ---------------------------------------------------------------- HTTP and processes


def request(method: str, url: str, body=None, token: str | None = None, timeout: float = 30.0):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=timeout) as response:
        payload = response.read()
        return response.status, (json.loads(payload) if payload else None)


def proc_status(pid: int) -> dict[str, str]:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.strip()
    return fields


def rss_mib(pid: int) -> float:
    return int(proc_status(pid)["VmRSS"].split()[0]) / 1024


def thread_count(pid: int) -> int:
    return int(proc_status(pid)["Threads"])


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(stat_path: Path) -> float:
    """utime + stime of one process or thread, from its /proc stat file."""
    fields = stat_path.read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


class CpuSplit:
    """CPU seconds spent while a load shape runs: Forge's hashing threads, the rest of Forge, every
    PostgreSQL process (its backends serve Forge alone during a run), and the whole machine."""

    def __init__(self, pid: int):
        self.pid = pid

    def _forge(self) -> dict[tuple[str, str], float]:
        """CPU seconds per thread, keyed by (part, thread id)."""
        seconds: dict[tuple[str, str], float] = {}
        for task in Path(f"/proc/{self.pid}/task").iterdir():
            try:
                part = "hashing" if (task / "comm").read_text().startswith("forge-hash") else "other"
                seconds[(part, task.name)] = cpu_seconds(task / "stat")
            except (FileNotFoundError, ProcessLookupError):
                pass
        return seconds

    @staticmethod
    def _postgres() -> float:
        total = 0.0
        for proc in Path("/proc").iterdir():
            try:
                if proc.name.isdigit() and (proc / "comm").read_text().strip() == "postgres":
                    total += cpu_seconds(proc / "stat")
            except (FileNotFoundError, ProcessLookupError):
                pass
        return total

    @staticmethod
    def _machine() -> float:
        ticks = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
        return (sum(ticks) - ticks[3] - ticks[4]) / CLOCK_TICKS

    def __enter__(self) -> "CpuSplit":
        self.before = (self._forge(), self._postgres(), self._machine())
        return self

    def __exit__(self, *exc) -> None:
        self.after = (self._forge(), self._postgres(), self._machine())

    def per(self, count: int) -> dict[str, float]:
        """Milliseconds per unit of work (`count` of them) in each part."""
        (forge0, pg0, machine0), (forge1, pg1, machine1) = self.before, self.after
        parts = {"hashing": 0.0, "other": 0.0}
        for (part, tid), seconds in forge1.items():
            parts[part] += seconds - forge0.get((part, tid), 0.0)
        parts["postgres"] = pg1 - pg0
        parts["machine"] = machine1 - machine0
        return {k: round(v * 1000 / max(count, 1), 2) for k, v in parts.items()}


class Server:
    """One server process on loopback, its output in a log file."""

    def __init__(self, name: str, command: list[str], env: dict[str, str], ready_url: str, logdir: Path):
        self.name, self.command, self.env, self.ready_url = name, command, env, ready_url
        self.logfile = logdir / f"{name}.log"
        self.process: subprocess.Popen | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self, timeout: float = 30.0) -> float:
        """Starts the process and returns the milliseconds until `ready_url` answers 200."""
        log_handle = open(self.logfile, "ab")
        started = time.perf_counter()
        self.process = subprocess.Popen(self.command, env=self.env, stdout=log_handle, stderr=subprocess.STDOUT)
        deadline = started + timeout
        while time.perf_counter() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited: {self.logfile.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(self.ready_url, timeout=1) as response:
                    if response.status == 200:
                        return (time.perf_counter() - started) * 1000
            except (urllib.error.URLError, ConnectionError, OSError):
                pass
            time.sleep(0.002)
        raise RuntimeError(f"{self.name} was not ready within {timeout} s: {self.logfile.read_text()[-2000:]}")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


class Sampler:
    """Samples a process's resident memory every 250 ms while a load shape runs."""

    def __init__(self, pid: int):
        self.pid, self.samples, self._stop = pid, [], threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.samples.append(rss_mib(self.pid))
            except (FileNotFoundError, ProcessLookupError):
                return
            self._stop.wait(0.25)

    def __enter__(self) -> "Sampler":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


# ---------------------------------------------------------------- wrk


def wrk_command(url: str, connections: int, threads: int, token: str | None) -> list[str]:
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{SECONDS}s", "--timeout", "10s", "-s", str(LUA)]
    if token:
        command += ["-H", f"Authorization: Bearer {token}"]
    return command + [url]


def wrk_env(body=None, count_status: bool = False) -> dict[str, str]:
    env = dict(os.environ)
    env["BENCH_METHOD"] = "POST" if body is not None else "GET"
    env["BENCH_BODY"] = json.dumps(body) if body is not None else ""
    env["BENCH_COUNT_STATUS"] = "1" if count_status else "0"
    return env


def parse_wrk(output: str, count_status: bool) -> dict:
    line = next((l for l in output.splitlines() if l.startswith("BENCH_JSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no summary:\n{output}")
    raw = json.loads(line[len("BENCH_JSON "):])
    if raw["requests"] == 0:
        raise RuntimeError(f"wrk got no answer at all:\n{output}")
    seconds = raw["duration_us"] / 1e6
    transport = raw["connect_errors"] + raw["read_errors"] + raw["write_errors"] + raw["timeouts"]
    good = raw["ok"] if count_status else raw["requests"] - raw["status_errors"]
    return {
        "requests": raw["requests"],
        "seconds": round(seconds, 2),
        "rps": round(good / seconds, 1),
        "p50_ms": raw["p50_us"] / 1000,
        "p90_ms": raw["p90_us"] / 1000,
        "p99_ms": raw["p99_us"] / 1000,
        "max_ms": raw["max_us"] / 1000,
        # Refusals by a full hashing queue (503 SERVER_BUSY) are the design working, not errors.
        "busy": raw["busy"] if count_status else 0,
        "errors": transport + (raw["other"] if count_status else raw["status_errors"]),
    }


def wrk(url: str, connections: int, threads: int = 2, token: str | None = None, body=None, count_status=False) -> dict:
    count_status = count_status or body is not None
    result = subprocess.run(
        wrk_command(url, connections, threads, token), env=wrk_env(body, count_status),
        capture_output=True, text=True, check=True,
    )
    return parse_wrk(result.stdout, count_status)


def wrk_together(*shapes: tuple[str, int, int, str | None, object]) -> list[dict]:
    """Runs several wrk processes at the same time; each shape is (url, connections, threads, token, body)."""
    processes = []
    for url, connections, threads, token, body in shapes:
        count = body is not None
        processes.append((subprocess.Popen(
            wrk_command(url, connections, threads, token), env=wrk_env(body, count),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        ), count))
    results = []
    for process, count in processes:
        out, err = process.communicate()
        if process.returncode != 0:
            raise RuntimeError(f"wrk failed: {err}")
        results.append(parse_wrk(out, count))
    return results


class Spinners:
    """One busy loop per core at the hashing threads' default priority (nice 10), doing no I/O and
    touching little memory: CPU pressure without Forge's logins. Reads measured beside them show
    what this machine's scheduler does to any server's tail, the reference's included."""

    NICE = 10

    def __enter__(self) -> "Spinners":
        self.processes = [
            subprocess.Popen(["nice", "-n", str(self.NICE), sys.executable, "-c", "while True: pass"])
            for _ in range(os.cpu_count() or 1)
        ]
        time.sleep(0.3)
        return self

    def __exit__(self, *exc) -> None:
        for process in self.processes:
            process.kill()
            process.wait()


def reads_beside_spinners(url: str, token: str, alone: dict | None = None) -> tuple[dict, dict]:
    """`url` at 8 connections alone (unless measured already), then beside the spinners: the
    machine's own yardstick for the reads-during-logins target."""
    if alone is None:
        alone = wrk(url, 8, threads=1, token=token)
    with Spinners():
        beside = wrk(url, 8, threads=1, token=token)
    return alone, beside


# ---------------------------------------------------------------- PostgreSQL


def psql(sql: str, database: str = "postgres") -> None:
    subprocess.run(
        ["psql", "-h", PG_HOST, "-p", PG_PORT, "-U", PG_USER, "-d", database, "-v", "ON_ERROR_STOP=1", "-q", "-c", sql],
        check=True, capture_output=True, text=True,
    )


def pg_url(database: str) -> str:
    return f"postgres://{PG_USER}@{PG_HOST}:{PG_PORT}/{database}"


# ---------------------------------------------------------------- Forge


def forge_env(data_dir: Path, database_url: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FORGE_") or k.startswith("FORGE_HASHING__")}
    env.pop("DATABASE_URL", None)
    env.update({
        "FORGE_DATA_DIR": str(data_dir),
        "FORGE_BIND": f"127.0.0.1:{PORT}",
        "FORGE_JWT_SECRET": JWT_SECRET,
        "FORGE_LOG__LEVEL": "warn",
        "RUST_LOG": "warn",
        # Request limits and the lockout would refuse a load generator hammering from one address.
        "FORGE_RATE_LIMIT__ENABLED": "false",
        "FORGE_RATE_LIMIT__LOCKOUT_ENABLED": "false",
    })
    if database_url:
        env["DATABASE_URL"] = database_url
    return env


def forge_cli(env: dict[str, str], *args: str, extra: dict[str, str] | None = None) -> None:
    subprocess.run([str(FORGE), *args], env={**env, **(extra or {})}, check=True, capture_output=True, text=True)


def run_forge(database: str, workdir: Path) -> dict:
    label = LABELS[database]
    data_dir = workdir / f"forge-{database.replace('+', '-')}"
    data_dir.mkdir()
    pg_database = None
    if database.startswith("postgres"):
        pg_database = f"forge_bench_{os.getpid()}_{database.replace('+', '_')}"
        psql(f"CREATE DATABASE {pg_database}")
    env = forge_env(data_dir, pg_url(pg_database) if pg_database else None)
    if database.endswith("+redis"):
        # The read cache and shared limits, under a prefix of this run's own.
        env["REDIS_URL"] = REDIS_URL
        env["FORGE_REDIS__PREFIX"] = f"bench{os.getpid()}"
    base = f"http://127.0.0.1:{PORT}"
    server = Server(f"forge-{database}", [str(FORGE), "serve"], env, f"{base}/health/ready", workdir)
    result: dict = {"database": label, "loadavg_before": loadavg()}
    try:
        if pg_database:
            forge_cli(env, "migrate", "up")
        else:
            # The first start creates and migrates the database; the timed starts find it migrated.
            server.start()
            server.stop()
        forge_cli(env, "create-admin", "--email", "admin@bench.example.com", "--username", "benchadmin",
                  extra={"FORGE_ADMIN_PASSWORD": PASSWORD})
        starts = []
        for i in range(3):
            starts.append(server.start())
            if i < 2:
                server.stop()
        result["startup_ms"] = round(statistics.median(starts), 1)
        result["startup_runs_ms"] = [round(s, 1) for s in starts]
        time.sleep(2)
        result["rss_idle_mib"] = round(rss_mib(server.pid), 1)
        result["threads_idle"] = thread_count(server.pid)
        log(f"{label}: ready in {result['startup_ms']} ms, {result['rss_idle_mib']} MiB idle")

        api = f"{base}/api/v1"
        _, admin = request("POST", f"{api}/auth/login", {"email": "admin@bench.example.com", "password": PASSWORD})
        admin_token = admin["access_token"]
        members = [
            {"email": f"member{i}@bench.example.com", "username": f"bench_member_{i}", "password": PASSWORD}
            for i in range(SEED_USERS)
        ]
        status, created = request("POST", f"{api}/users/bulk", members, token=admin_token, timeout=300)
        assert status == 201, status
        member_id = created["items"][0]["id"]
        login_body = {"email": members[0]["email"], "password": PASSWORD}
        _, member = request("POST", f"{api}/auth/login", login_body)
        token = member["access_token"]
        result["member_id"] = member_id
        result["rss_after_seed_mib"] = round(rss_mib(server.pid), 1)

        me, users, login = f"{api}/users/me", f"{api}/users?limit=20", f"{api}/auth/login"
        subprocess.run(["wrk", "-t2", "-c64", "-d2s", "-H", f"Authorization: Bearer {token}", me],
                       check=True, capture_output=True)
        shapes = result["shapes"] = {}
        shapes["me_64"] = wrk(me, 64, token=token)
        log(f"{label}: /users/me 64: {shapes['me_64']}")
        shapes["me_256"] = wrk(me, 256, token=token)
        log(f"{label}: /users/me 256: {shapes['me_256']}")
        shapes["list_64"] = wrk(users, 64, token=admin_token)
        log(f"{label}: /users?limit=20 64: {shapes['list_64']}")
        result["rss_after_reads_mib"] = round(rss_mib(server.pid), 1)

        # The login yardstick is measured next to the login run it judges: one hash alone just
        # before and just after it (the machine's speed drifts over minutes on a shared host),
        # and, for the record, one hash while every core hashes.
        before = argon2_cost(1)
        with CpuSplit(server.pid) as cpu:
            shapes["login_8"] = wrk(login, 8, body=login_body)
        result["login_cpu_ms"] = cpu.per(shapes["login_8"]["requests"])
        result["argon2_ms"] = round((before + argon2_cost(1)) / 2, 2)
        result["argon2_all_cores_ms"] = argon2_cost(os.cpu_count() or 1)
        log(f"{label}: login 8: {shapes['login_8']}; CPU ms per login {result['login_cpu_ms']}; one hash "
            f"{result['argon2_ms']} ms alone, {result['argon2_all_cores_ms']} ms with every core hashing")
        shapes["me_8_alone"] = wrk(me, 8, threads=1, token=token)
        mixed_me, mixed_login = wrk_together((me, 8, 1, token, None), (login, 8, 1, None, login_body))
        shapes["me_8_during_logins"], shapes["login_8_with_reads"] = mixed_me, mixed_login
        log(f"{label}: /users/me 8 alone {shapes['me_8_alone']}, during logins {mixed_me}")
        if database == "postgres":
            _, shapes["me_8_beside_spinners"] = reads_beside_spinners(me, token, alone=shapes["me_8_alone"])
            log(f"{label}: /users/me 8 beside a nice-{Spinners.NICE} spinner per core {shapes['me_8_beside_spinners']}")

        with Sampler(server.pid) as sampler:
            shapes["login_64"] = wrk(login, 64, body=login_body)
        result["rss_storm_max_mib"] = round(max(sampler.samples), 1)
        result["threads_storm"] = thread_count(server.pid)
        result["rss_after_storm_mib"] = round(rss_mib(server.pid), 1)
        log(f"{label}: login 64: {shapes['login_64']}; RSS max {result['rss_storm_max_mib']} MiB")
        time.sleep(IDLE_SECONDS)
        result["rss_after_idle_mib"] = round(rss_mib(server.pid), 1)
        result["threads_after_idle"] = thread_count(server.pid)
        result["loadavg_after"] = loadavg()
        log(f"{label}: {result['rss_after_idle_mib']} MiB after {IDLE_SECONDS} s idle")
        if database == "postgres":
            # The reference reads Forge's own tables: run it now, while the database is seeded
            # and Forge is stopped, so that the two never share the CPU.
            server.stop()
            try:
                result["reference"] = run_anchor_raw(pg_url(pg_database), member_id, workdir)
            except (RuntimeError, subprocess.CalledProcessError) as e:
                log(f"the reference raw server failed; its figures are left out: {e}")
                result["reference_failed"] = str(e).splitlines()[0]
    finally:
        server.stop()
        if pg_database:
            try:
                psql(f"DROP DATABASE IF EXISTS {pg_database} WITH (FORCE)")
            except subprocess.CalledProcessError as e:
                log(f"could not drop {pg_database}: {e.stderr}")
    return result


# ---------------------------------------------------------------- the reference servers


def anchor_bin(name: str) -> Path | None:
    if not ANCHOR_BIN:
        return None
    path = Path(ANCHOR_BIN) / name
    return path if path.exists() else None


def run_anchor_raw(database_url: str, member_id: str, workdir: Path) -> dict | None:
    raw = anchor_bin("raw")
    if raw is None:
        return None
    env = {**os.environ, "DATABASE_URL": database_url, "BIND": f"127.0.0.1:{PORT + 1}"}
    token = subprocess.run([str(raw), "token", member_id], env=env, check=True, capture_output=True,
                           text=True).stdout.strip()
    base = f"http://127.0.0.1:{PORT + 1}"
    server = Server("raw", [str(raw)], env, f"{base}/users/me", workdir)
    result: dict = {"loadavg_before": loadavg()}
    try:
        # `/users/me` answers 401 without a token: ready means it answers at all.
        server.ready_url = f"{base}/users/me"
        start_unauthenticated(server)
        time.sleep(2)
        result["rss_idle_mib"] = round(rss_mib(server.pid), 1)
        subprocess.run(["wrk", "-t2", "-c64", "-d2s", "-H", f"Authorization: Bearer {token}", f"{base}/users/me"],
                       check=True, capture_output=True)
        shapes = result["shapes"] = {}
        shapes["me_64"] = wrk(f"{base}/users/me", 64, token=token)
        log(f"reference raw: /users/me 64: {shapes['me_64']}")
        shapes["me_256"] = wrk(f"{base}/users/me", 256, token=token)
        shapes["list_64"] = wrk(f"{base}/users", 64, token=token)
        log(f"reference raw: /users 64: {shapes['list_64']}")
        shapes["me_8_alone"], shapes["me_8_beside_spinners"] = reads_beside_spinners(f"{base}/users/me", token)
        log(f"reference raw: /users/me 8 alone {shapes['me_8_alone']}, beside spinners {shapes['me_8_beside_spinners']}")
        result["rss_after_reads_mib"] = round(rss_mib(server.pid), 1)
    finally:
        server.stop()
    return result


def start_unauthenticated(server: Server) -> None:
    """Starts a server whose ready URL answers 401: any HTTP answer means it listens."""
    log_handle = open(server.logfile, "ab")
    server.process = subprocess.Popen(server.command, env=server.env, stdout=log_handle, stderr=subprocess.STDOUT)
    deadline = time.perf_counter() + 30
    while time.perf_counter() < deadline:
        try:
            urllib.request.urlopen(server.ready_url, timeout=1)
            return
        except urllib.error.HTTPError:
            return
        except (urllib.error.URLError, ConnectionError, OSError):
            time.sleep(0.01)
    raise RuntimeError(f"{server.name} did not start: {server.logfile.read_text()[-2000:]}")


def run_anchor_hello(workdir: Path) -> dict | None:
    hello = anchor_bin("hello")
    if hello is None:
        return None
    base = f"http://127.0.0.1:{PORT + 2}"
    server = Server("hello", [str(hello)], {**os.environ, "BIND": f"127.0.0.1:{PORT + 2}"}, f"{base}/", workdir)
    try:
        server.start()
        time.sleep(1)
        result = {"rss_idle_mib": round(rss_mib(server.pid), 1), "shapes": {"hello_64": wrk(f"{base}/", 64)}}
        log(f"reference hello: {result['shapes']['hello_64']}")
        return result
    finally:
        server.stop()


# ---------------------------------------------------------------- targets, report and chart


def argon2_cost(threads: int) -> float:
    """The median milliseconds of one argon2id hash with `threads` threads hashing at once."""
    out = subprocess.run([str(ARGON2_COST), "30", str(threads)], check=True, capture_output=True, text=True).stdout
    return float(out)


def ratio(a: float | None, b: float | None) -> float | None:
    return None if not a or not b else round(a / b, 2)


def targets(run: dict) -> list[tuple[str, str, bool | None]]:
    """Issue 9's "done means", each with the measured figure and whether it is met."""
    by = {r["database"]: r for r in run["forge"]}
    pg, lite = by.get("PostgreSQL"), by.get("SQLite")
    ref = (pg or {}).get("reference") or {}
    ref_shapes = ref.get("shapes", {})
    rows: list[tuple[str, str, bool | None]] = []

    def shape(r, name):
        return (r or {}).get("shapes", {}).get(name)

    if pg and ref_shapes:
        me, rme = shape(pg, "me_64"), ref_shapes["me_64"]
        x = ratio(me["rps"], rme["rps"])
        rows.append(("`/users/me` PostgreSQL ≥ 1.0× reference, p99 no worse",
                     f"{x}×, p99 {me['p99_ms']:.1f} ms vs {rme['p99_ms']:.1f} ms",
                     x is not None and x >= 1.0 and me["p99_ms"] <= rme["p99_ms"]))
        if lite:
            x = ratio(shape(lite, "me_64")["rps"], rme["rps"])
            rows.append(("`/users/me` SQLite ≥ 1.3× reference (PostgreSQL)", f"{x}×", x is not None and x >= 1.3))
        x = ratio(shape(pg, "list_64")["rps"], ref_shapes["list_64"]["rps"])
        rows.append(("list ≥ 1.0× reference", f"{x}× (PostgreSQL)", x is not None and x >= 1.0))
    cached = by.get("PostgreSQL + Redis")
    hello = (run.get("hello") or {}).get("shapes", {}).get("hello_64")
    if cached and pg:
        me_c, me_pg = shape(cached, "me_64"), shape(pg, "me_64")
        x = ratio(me_c["rps"], me_pg["rps"])
        rows.append(("`/users/me` from the cache ≥ 3× uncached PostgreSQL", f"{x}×", x is not None and x >= 3))
        if hello:
            x = ratio(me_c["rps"], hello["rps"])
            rows.append(("`/users/me` from the cache ≥ 40% of the actix-web hello ceiling",
                         f"{round((x or 0) * 100)}%", x is not None and x >= 0.4))
    for r in run["forge"]:
        db = r["database"]
        m64, m256 = shape(r, "me_64"), shape(r, "me_256")
        x = ratio(m256["rps"], m64["rps"])
        rows.append((f"256 connections, {db}: no errors, ≥ 90% of 64",
                     f"{m256['errors']} errors, {round((x or 0) * 100)}%", m256["errors"] == 0 and (x or 0) >= 0.9))
        hash_ms = r.get("argon2_ms", run["argon2_ms"])
        ideal = run["cores"] / (hash_ms / 1000)
        login = shape(r, "login_8")
        x = ratio(login["rps"], ideal)
        measured = f"{login['rps']:.0f}/s = {round((x or 0) * 100)}%"
        if r.get("argon2_all_cores_ms"):
            ceiling = run["cores"] / (r["argon2_all_cores_ms"] / 1000)
            measured += f" ({round(login['rps'] / ceiling * 100)}% of {ceiling:.0f}/s with every core hashing)"
        rows.append((f"logins, {db}: ≥ 80% of cores / one hash ({hash_ms:.1f} ms: {ideal:.0f}/s)",
                     measured, (x or 0) >= 0.8))
        alone, mixed = shape(r, "me_8_alone"), shape(r, "me_8_during_logins")
        x = ratio(mixed["rps"], alone["rps"])
        p = ratio(mixed["p99_ms"], alone["p99_ms"])
        rows.append((f"`/users/me` during an 8-connection login storm, {db}: ≥ 50%, p99 ≤ 3×",
                     f"{round((x or 0) * 100)}%, p99 {p}×", (x or 0) >= 0.5 and p is not None and p <= 3))
        beside = shape(r, "me_8_beside_spinners")
        if beside and ref_shapes.get("me_8_beside_spinners"):
            ralone, rbeside = ref_shapes["me_8_alone"], ref_shapes["me_8_beside_spinners"]
            rows.append((f"for comparison, {db}: `/users/me` at 8 connections beside a nice-{Spinners.NICE} "
                         "spinner per core instead of logins, Forge and the reference",
                         f"Forge {round(ratio(beside['rps'], alone['rps']) * 100)}%, p99 "
                         f"{ratio(beside['p99_ms'], alone['p99_ms'])}×; reference "
                         f"{round(ratio(rbeside['rps'], ralone['rps']) * 100)}%, p99 "
                         f"{ratio(rbeside['p99_ms'], ralone['p99_ms'])}×", None))
        rows.append((f"memory idle after start, {db}: ≤ 30 MiB", f"{r['rss_idle_mib']} MiB", r["rss_idle_mib"] <= 30))
        rows.append((f"memory after the read runs, {db}: ≤ 64 MiB", f"{r['rss_after_reads_mib']} MiB",
                     r["rss_after_reads_mib"] <= 64))
        storm = max(r["rss_storm_max_mib"], r["rss_after_storm_mib"])
        rows.append((f"memory during and after a 64-connection login storm, {db}: ≤ 160 MiB", f"{storm} MiB",
                     storm <= 160))
        rows.append((f"memory {run.get('idle_seconds', IDLE_SECONDS)} s after the storm, {db}: < 64 MiB", f"{r['rss_after_idle_mib']} MiB",
                     r["rss_after_idle_mib"] < 64))
        rows.append((f"start-up to ready, {db}: < 300 ms", f"{r['startup_ms']} ms", r["startup_ms"] < 300))
    return rows


SHAPE_LABELS = {
    "me_64": "GET /users/me, 64 conns",
    "me_256": "GET /users/me, 256 conns",
    "list_64": "GET /users?limit=20, 64 conns",
    "login_8": "POST /auth/login, 8 conns",
    "login_64": "POST /auth/login, 64 conns (storm)",
    "me_8_alone": "GET /users/me, 8 conns, alone",
    "me_8_during_logins": "GET /users/me, 8 conns, during 8 logging in",
    "login_8_with_reads": "POST /auth/login, 8 conns, beside those reads",
    "me_8_beside_spinners": f"GET /users/me, 8 conns, beside a nice-{Spinners.NICE} spinner per core",
    "hello_64": "GET / (hello), 64 conns",
}


def series(run: dict) -> list[tuple[str, str, dict]]:
    """(server, shape, figures) for every measured shape, in report order."""
    rows = []
    for r in run["forge"]:
        for name, figures in r["shapes"].items():
            rows.append((f"Forge, {r['database']}", name, figures))
        ref = r.get("reference")
        if ref:
            for name, figures in ref["shapes"].items():
                rows.append(("reference raw, PostgreSQL", name, figures))
    if run.get("hello"):
        for name, figures in run["hello"]["shapes"].items():
            rows.append(("reference hello", name, figures))
    return rows


def markdown(run: dict) -> str:
    out = [BEGIN, "", f"Generated by `scripts/bench.sh` on {run['date']} (commit `{run['commit']}`): "
           f"{run['cores']} cores, {run['machine']}, BENCH_SECONDS={run.get('seconds', SECONDS)}, wrk on the same machine over "
           f"loopback, release builds, rate limits off. One argon2id hash (m=19456 KiB, t=2, p=1) took "
           f"{run['argon2_ms']:.1f} ms on one core at the start of this run; the login targets below use the "
           f"time measured just before and after each login run, and give the time with every core hashing "
           f"for comparison.", ""]
    out += ["| server | load shape | req/s | p50 | p99 | errors | 503 busy |", "|---|---|---:|---:|---:|---:|---:|"]
    for server, name, f in series(run):
        out.append(f"| {server} | {SHAPE_LABELS.get(name, name)} | {f['rps']:,.0f} | {f['p50_ms']:.1f} ms | "
                   f"{f['p99_ms']:.1f} ms | {f['errors']} | {f['busy']} |")
    out += ["", "Req/s counts successful answers only (2xx); a login refused with 503 `SERVER_BUSY` is in the "
            "last column.", ""]
    out += ["| resident memory (VmRSS) | " + " | ".join(r["database"] for r in run["forge"]) + " |",
            "|---|" + "---:|" * len(run["forge"])]
    for key, label in [("rss_idle_mib", "idle, 2 s after start"),
                       ("rss_after_seed_mib", f"after seeding ({SEED_USERS}-user bulk, two logins)"),
                       ("rss_after_reads_mib", "after the read runs"),
                       ("rss_storm_max_mib", "highest during the 64-connection login storm"),
                       ("rss_after_storm_mib", "right after the storm"),
                       ("rss_after_idle_mib", f"{run.get('idle_seconds', IDLE_SECONDS)} s after the storm")]:
        out.append(f"| {label} | " + " | ".join(f"{r[key]} MiB" for r in run["forge"]) + " |")
    out.append("| threads idle / during the storm | " +
               " | ".join(f"{r['threads_idle']} / {r['threads_storm']}" for r in run["forge"]) + " |")
    out.append("| start-up to ready (median of 3; runs) | " +
               " | ".join(f"{r['startup_ms']} ms ({', '.join(map(str, r['startup_runs_ms']))})" for r in run["forge"])
               + " |")
    out.append("| load average before / after | " +
               " | ".join(f"{r['loadavg_before']} / {r['loadavg_after']}" for r in run["forge"]) + " |")
    if all(r.get("login_cpu_ms") for r in run["forge"]):
        out += ["", "CPU per login during the 8-connection login run (`utime + stime` from `/proc`, divided by "
                "the logins; PostgreSQL: every `postgres` process), beside the yardstick hash:", "",
                "| CPU per login | " + " | ".join(r["database"] for r in run["forge"]) + " |",
                "|---|" + "---:|" * len(run["forge"])]
        for key, label in [("hashing", "Forge's hashing threads"), ("other", "the rest of Forge"),
                           ("postgres", "PostgreSQL"), ("machine", "the whole machine (both cores, wrk included)")]:
            out.append(f"| {label} | " + " | ".join(f"{r['login_cpu_ms'][key]:.2f} ms" for r in run["forge"]) + " |")
        out.append("| one hash alone (`argon2_cost`, before and after) | " +
                   " | ".join(f"{r['argon2_ms']:.2f} ms" for r in run["forge"]) + " |")
        out.append("| one hash while every core hashes | " +
                   " | ".join(f"{r['argon2_all_cores_ms']:.2f} ms" for r in run["forge"]) + " |")
    for r in run["forge"]:
        if r.get("reference_failed"):
            out += ["", f"The reference `raw` server failed in this run ({r['reference_failed']}); its figures "
                    "are missing."]
    ref = next((r.get("reference") for r in run["forge"] if r.get("reference")), None)
    if ref or run.get("hello"):
        parts = []
        if ref:
            parts.append(f"raw {ref['rss_idle_mib']} MiB idle, {ref['rss_after_reads_mib']} MiB after its reads")
        if run.get("hello"):
            parts.append(f"hello {run['hello']['rss_idle_mib']} MiB idle")
        out += ["", "Reference servers' memory: " + "; ".join(parts) + "."]
    out += ["", "Issue 9's targets, as measured in this run:", "", "| target | measured | met |", "|---|---|---|"]
    for target, measured, met in targets(run):
        out.append(f"| {target} | {measured} | {'yes' if met else 'no' if met is False else 'not a target'} |")
    out += ["", "![Throughput and p99 latency per load shape](bench.png)", "", END]
    return "\n".join(out)


def chart(run: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = series(run)
    labels = [f"{server} · {SHAPE_LABELS.get(name, name)}" for server, name, _ in rows]
    colors = {"Forge, SQLite": "#4C72B0", "Forge, PostgreSQL": "#55A868",
              "Forge, PostgreSQL + Redis": "#DD8452", "reference raw, PostgreSQL": "#C44E52",
              "reference hello": "#8172B2"}
    bar_colors = [colors.get(server, "#999999") for server, _, _ in rows]
    fig, (left, right) = plt.subplots(1, 2, figsize=(15, 0.38 * len(rows) + 1.6), sharey=True)
    positions = list(range(len(rows)))[::-1]
    left.barh(positions, [f["rps"] for _, _, f in rows], color=bar_colors)
    left.set_xlabel("requests per second, successful (log scale)")
    left.set_xscale("log")
    left.set_yticks(positions, labels, fontsize=8)
    right.barh(positions, [f["p99_ms"] for _, _, f in rows], color=bar_colors)
    right.set_xlabel("p99 latency (ms, log scale)")
    right.set_xscale("log")
    for axis, key, fmt in [(left, "rps", "{:,.0f}"), (right, "p99_ms", "{:.1f}")]:
        for y, (_, _, f) in zip(positions, rows):
            axis.text(f[key], y, " " + fmt.format(f[key]), va="center", fontsize=7)
        axis.grid(axis="x", alpha=0.3)
    fig.suptitle(f"Forge load shapes, {run['date']}, {run['cores']} cores, BENCH_SECONDS={run.get('seconds', SECONDS)}", fontsize=10)
    fig.tight_layout()
    fig.savefig(CHART, dpi=110)
    plt.close(fig)


def write_doc(run: dict) -> None:
    section = markdown(run)
    text = DOC.read_text() if DOC.exists() else "# Performance\n"
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        _, tail = rest.split(END, 1)
        text = head + section + tail
    else:
        text = text.rstrip("\n") + "\n\n## Latest benchmark run\n\n" + section + "\n"
    DOC.write_text(text)


def print_summary(run: dict) -> None:
    print()
    for server, name, f in series(run):
        print(f"{server:28} {SHAPE_LABELS.get(name, name):58} {f['rps']:>10,.0f} req/s  p99 {f['p99_ms']:>8.1f} ms"
              f"  errors {f['errors']}  busy {f['busy']}")
    print()
    for target, measured, met in targets(run):
        print(f"[{'met' if met else 'NOT met' if met is False else 'context'}] {target}: {measured}")


def main() -> int:
    if os.environ.get("BENCH_REPORT_ONLY") == "1":
        # Rewrites the docs from the last run's figures, without measuring again.
        run = json.loads(RESULTS.read_text())
        chart(run)
        write_doc(run)
        print_summary(run)
        return 0
    for tool in ("wrk", "psql") if any(d.startswith("postgres") for d in DATABASES) else ("wrk",):
        if shutil.which(tool) is None:
            print(f"{tool} is missing (Debian: apt-get install -y {'wrk' if tool == 'wrk' else 'postgresql-client'})",
                  file=sys.stderr)
            return 1
    # "-dirty" when the working tree differs from the commit: the figures are then not the commit's.
    commit = subprocess.run(["git", "describe", "--always", "--dirty", "--abbrev=7"], cwd=ROOT,
                            capture_output=True, text=True).stdout.strip()
    argon2_ms = argon2_cost(1)
    run = {
        "date": datetime.date.today().isoformat(),
        "commit": commit or "unknown",
        "cores": os.cpu_count() or 1,
        "machine": f"{platform.machine()}, {round(os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30)} GiB",
        "argon2_ms": argon2_ms,
        # The report reads these from the run, so that BENCH_REPORT_ONLY=1 repeats them faithfully.
        "seconds": SECONDS,
        "idle_seconds": IDLE_SECONDS,
        "forge": [],
    }
    log(f"one argon2id hash: {argon2_ms:.2f} ms; load average {loadavg()}")
    with tempfile.TemporaryDirectory(prefix="forge-bench-") as tmp:
        workdir = Path(tmp)
        for database in DATABASES:
            run["forge"].append(run_forge(database, workdir))
        run["hello"] = run_anchor_hello(workdir)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(run, indent=2))
    if os.environ.get("BENCH_WRITE_DOCS", "1") == "1":
        chart(run)
        write_doc(run)
        log(f"wrote {DOC.relative_to(ROOT)} and {CHART.relative_to(ROOT)}")
    print_summary(run)
    return 0


if __name__ == "__main__":
    sys.exit(main())
