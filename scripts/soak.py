#!/usr/bin/env python3
"""A soak run: the real server (target/release/forge, or FORGE_BIN) under a steady, moderate, mixed
load for a long time, recording every 10 s the requests done, the errors by status, the latency of
the window and the server's resident memory and thread count. Run it through scripts/soak.sh.

The load (SOAK_RATE requests/s in total, 300 by default, paced, not a saturation test) comes from
one client thread per member (SOAK_MEMBERS, 8) and one admin client, each with a keep-alive
connection and a session of its own:

  members  GET /users/me, GET /projects, GET /projects/{id} (their own), PATCH /users/me
           (full_name), a project cycle (POST /projects, PATCH it, add another member, remove that
           member; past 5 projects of its own, DELETE the oldest), a POST /projects with a name the
           member already uses (409 PROJECT_NAME_TAKEN, expected); about 70 % of the requests read
           and 30 % write. Besides: POST /auth/refresh every ~20 s, a fresh POST /auth/login (and
           POST /auth/logout of the session it replaces) once a second across all clients
           together, POST /exports of its projects every ~90 s and a GET of the previous one;
  admin    GET /users?limit=20, GET /projects?scope=all, GET /projects/{id} of a member's project,
           GET /users/me, GET /dashboard/stats, POST /exports of the users every ~2 min, refresh;
  sockets  SOAK_WS_CLIENTS (4) WebSocket clients (GET /api/v1/ws, Authorization: Bearer) of the
           first members, connected for the whole run, counting the events they receive
           (account.updated, project.*, export.*). Needs the `websockets` package; without it
           the run goes on without sockets and says so.

Every answer has the statuses it may have: 5xx and connection errors are errors, any other 4xx
than the expected ones is counted apart as unexpected (and its body is kept in the log), as is a
socket the server closes during the run. The first SOAK_WARMUP_SECS (60) of the load are the
warm-up; the memory figures are measured after it.

Environment:
  SOAK_MINUTES=15           minutes of load, the warm-up included
  SOAK_DATABASE=sqlite      or postgres: a fresh database forge_soak_<random> on
                            SOAK_PG_HOST:SOAK_PG_PORT (127.0.0.1:5432), user postgres, dropped after
  SOAK_REDIS_URL=           set: passed as REDIS_URL (Redis adapters and read cache), with a key
                            prefix of the run's own, whose keys are deleted after
  SOAK_RATE=300             requests per second, all clients together
  SOAK_MEMBERS=8            member clients (besides the admin)
  SOAK_WS_CLIENTS=4         WebSocket clients
  SOAK_WARMUP_SECS=60
  SOAK_SAMPLE_SECS=10
  SOAK_RSS_BOUND_PCT=10     the bound: end RSS <= warm-up RSS + this many percent
  SOAK_LOGIN_EVERY=1        seconds between two logins, all clients together
  SOAK_KEEP_DATA=           set: the data dir (SQLite database, exports, mail), the PostgreSQL
                            database and the Redis keys are kept, for a look afterwards
  SOAK_PORT=                default: a free port
  FORGE_BIN=target/release/forge

Writes target/soak/<name>.csv (one row per sample), <name>.summary.json, <name>.summary.txt and
<name>.server.log (the server's output), and, when matplotlib is installed, the chart <name>.png
(scripts/soak_chart.py), and exits non-zero if any 5xx, connection error or
dropped socket occurred, or the memory bound is broken.
"""

from __future__ import annotations

import csv
import http.client
import json
import os
import random
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path
import shutil

ROOT = Path(__file__).resolve().parents[1]
FORGE = Path(os.environ.get("FORGE_BIN", ROOT / "target" / "release" / "forge")).resolve()
OUT = ROOT / "target" / "soak"

MINUTES = float(os.environ.get("SOAK_MINUTES", "15"))
DATABASE = os.environ.get("SOAK_DATABASE", "sqlite")
REDIS_URL = os.environ.get("SOAK_REDIS_URL", "")
RATE = float(os.environ.get("SOAK_RATE", "300"))
MEMBERS = int(os.environ.get("SOAK_MEMBERS", "8"))
WS_CLIENTS = int(os.environ.get("SOAK_WS_CLIENTS", "4"))
WARMUP = float(os.environ.get("SOAK_WARMUP_SECS", "60"))
SAMPLE = float(os.environ.get("SOAK_SAMPLE_SECS", "10"))
RSS_BOUND_PCT = float(os.environ.get("SOAK_RSS_BOUND_PCT", "10"))
PG_HOST = os.environ.get("SOAK_PG_HOST", "127.0.0.1")
PG_PORT = os.environ.get("SOAK_PG_PORT", "5432")
PG_USER = os.environ.get("SOAK_PG_USER", "postgres")

PASSWORD = "Vq7#mLp2!xZr-Tide"
JWT_SECRET = "soak-signing-key-Hq4Wn8Zt2Lc6Pv0Xb3Ry7Md1Kf5Js9Ga"
ADMIN_EMAIL = "admin@soak.example.com"
# Time-based actions, per client: a refresh every ~20 s, an export every ~90 s (admin: ~120 s);
# a login (with a logout of the session it replaces) every SOAK_LOGIN_EVERY s across all clients
# together. One a second keeps both hashing threads busy often enough that they keep their 19 MiB
# blocks (given back after 10 s idle), so the memory figures do not jump by a block with the
# timing of the last login.
REFRESH_EVERY = 20.0
LOGIN_EVERY_ALL = float(os.environ.get("SOAK_LOGIN_EVERY", "1"))
EXPORT_EVERY = 90.0
ADMIN_EXPORT_EVERY = 120.0
OWN_PROJECTS = 5


def log(message: str) -> None:
    print(f"[soak {time.strftime('%H:%M:%S')}] {message}", flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, int(round(q / 100 * len(ordered) + 0.5)) - 1))
    return ordered[index]


def proc_status(pid: int) -> dict[str, str]:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.strip()
    return fields


def dir_kib(path: Path) -> int:
    total = 0
    for p in path.rglob("*"):
        try:
            if p.is_file():
                total += p.stat().st_size
        except OSError:
            pass
    return total // 1024


# ---------------------------------------------------------------- what is counted


class Stats:
    """Counters of the current window and of the whole run, shared by every client thread."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.window_latencies: list[float] = []
        self.window_by_op: dict[str, list[float]] = defaultdict(list)
        self.window = Counter()
        self.window_errors = Counter()
        self.window_unexpected = Counter()
        self.total = Counter()
        self.errors = Counter()
        self.unexpected = Counter()
        self.by_op: dict[str, list[float]] = defaultdict(list)
        self.op_counts = Counter()
        self.measuring = False
        self.closed = False
        self.measured_latencies: list[float] = []
        self.ws_events = 0
        self.ws_window_events = 0
        self.ws_types = Counter()
        self.ws_drops: list[str] = []
        self.ws_window_drops = 0
        self.ws_open = 0
        self.first_error_at: float | None = None
        self.error_times: list[float] = []

    def record(self, op: str, status: int | None, latency: float, expected: tuple[int, ...], detail: str = "") -> None:
        with self.lock:
            if self.closed:
                return
            self.window["requests"] += 1
            self.total["requests"] += 1
            self.op_counts[op] += 1
            if status is None:
                kind = "error"
                key = f"conn:{detail}"
            elif status >= 500:
                kind = "error"
                key = str(status)
            elif status in expected:
                kind = "ok" if status < 400 else "expected_4xx"
                key = ""
            elif status >= 400:
                kind = "unexpected_4xx"
                key = f"{op}:{status}"
            else:
                # A 2xx or 3xx other than the one expected: counted as unexpected too.
                kind = "unexpected_4xx"
                key = f"{op}:{status}"
            self.window[kind] += 1
            self.total[kind] += 1
            if kind == "error":
                self.window_errors[key] += 1
                self.errors[key] += 1
                self.error_times.append(time.time())
            elif kind == "unexpected_4xx":
                self.window_unexpected[key] += 1
                self.unexpected[key] += 1
            if status is not None:
                ms = latency * 1000
                self.window_latencies.append(ms)
                self.window_by_op[op].append(ms)
                if self.measuring:
                    self.measured_latencies.append(ms)
                    self.by_op[op].append(ms)

    def ws_event(self, kind: str) -> None:
        with self.lock:
            self.ws_events += 1
            self.ws_window_events += 1
            self.ws_types[kind] += 1

    def ws_drop(self, reason: str) -> None:
        with self.lock:
            self.ws_drops.append(reason)
            self.ws_window_drops += 1

    def take_window(self) -> dict:
        with self.lock:
            taken = {
                "counts": self.window,
                "errors": self.window_errors,
                "unexpected": self.window_unexpected,
                "latencies": self.window_latencies,
                "by_op": self.window_by_op,
                "ws_events": self.ws_window_events,
                "ws_drops": self.ws_window_drops,
                "ws_open": self.ws_open,
            }
            self.window, self.window_errors, self.window_unexpected = Counter(), Counter(), Counter()
            self.window_latencies, self.ws_window_events, self.ws_window_drops = [], 0, 0
            self.window_by_op = defaultdict(list)
            return taken


# ---------------------------------------------------------------- HTTP clients


class Pacer:
    """Spaces a client's requests evenly at `rate` per second; never bursts to catch up."""

    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / rate
        self.next = time.monotonic() + random.random() * self.interval

    def wait(self, stop: threading.Event) -> None:
        now = time.monotonic()
        if self.next > now:
            stop.wait(self.next - now)
            self.next += self.interval
        else:
            self.next = max(self.next + self.interval, now - 1.0)


class Client:
    """One keep-alive connection, one session, one pace."""

    def __init__(self, port: int, stats: Stats, stop: threading.Event, rate: float, unexpected_log) -> None:
        self.port, self.stats, self.stop = port, stats, stop
        self.pacer = Pacer(rate)
        self.unexpected_log = unexpected_log
        self.conn: http.client.HTTPConnection | None = None
        self.access = ""
        self.refresh = ""

    def connection(self) -> http.client.HTTPConnection:
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        return self.conn

    def call(self, op: str, method: str, path: str, body=None, expect=(200,), token: str | None = "", paced=True):
        """Returns (status, json body or None, headers); status None on a connection error."""
        if paced:
            self.pacer.wait(self.stop)
        headers = {}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        bearer = self.access if token == "" else token
        if bearer:
            headers["Authorization"] = f"Bearer {bearer}"
        started = time.perf_counter()
        try:
            conn = self.connection()
            conn.request(method, "/api/v1" + path, body=data, headers=headers)
            response = conn.getresponse()
            raw = response.read()
            status = response.status
            if response.getheader("Connection", "").lower() == "close":
                conn.close()
                self.conn = None
        except (OSError, http.client.HTTPException) as e:
            self.stats.record(op, None, time.perf_counter() - started, expect, type(e).__name__)
            self.unexpected_log(f"{time.strftime('%H:%M:%S')} {op} {method} {path}: connection error {e!r}")
            if self.conn is not None:
                self.conn.close()
            self.conn = None
            return None, None, {}
        latency = time.perf_counter() - started
        self.stats.record(op, status, latency, expect)
        try:
            payload = json.loads(raw) if raw else None
        except ValueError:
            payload = None
        if status not in expect:
            self.unexpected_log(
                f"{time.strftime('%H:%M:%S')} {op} {method} {path}: {status} "
                f"request-id {response.getheader('X-Request-ID')} {raw[:400].decode(errors='replace')}"
            )
        return status, payload, response

    def login(self, identifier: dict, op="login", paced=True) -> bool:
        status, body, _ = self.call(op, "POST", "/auth/login", {**identifier, "password": PASSWORD},
                                    expect=(200,), token=None, paced=paced)
        if status == 200:
            self.access, self.refresh = body["access_token"], body["refresh_token"]
            return True
        return False

    def rotate(self) -> None:
        status, body, _ = self.call("refresh", "POST", "/auth/refresh", {"refresh_token": self.refresh},
                                    expect=(200,), token=None)
        if status == 200:
            self.access, self.refresh = body["access_token"], body["refresh_token"]


class Shared:
    """What the clients know of each other: the members' ids and their home projects."""

    def __init__(self) -> None:
        self.members: list[dict] = []
        self.homes: list[str] = []
        self.login_lock = threading.Lock()
        self.next_login = time.monotonic() + random.uniform(0, LOGIN_EVERY_ALL)

    def login_due(self) -> bool:
        """One fresh login every LOGIN_EVERY_ALL seconds across all clients together."""
        with self.login_lock:
            now = time.monotonic()
            if now >= self.next_login:
                self.next_login = now + LOGIN_EVERY_ALL * random.uniform(0.5, 1.5)
                return True
            return False


class Member(Client):
    def __init__(self, index: int, shared: Shared, **kw) -> None:
        super().__init__(**kw)
        self.index, self.shared = index, shared
        self.me = shared.members[index]
        self.projects: list[str] = []   # own, live, oldest first; projects[0] is the home project
        self.home_name = f"soak home {index}"
        self.serial = 0
        self.export_id: str | None = None
        now = time.monotonic()
        self.next_refresh = now + random.uniform(0, REFRESH_EVERY)
        self.next_export = now + random.uniform(0, EXPORT_EVERY)

    def setup(self) -> None:
        assert self.login({"email": self.me["email"]}, paced=False), "member login failed"
        status, body, _ = self.call("setup", "POST", "/projects", {"name": self.home_name}, expect=(201,), paced=False)
        assert status == 201, status
        self.projects.append(body["id"])
        self.shared.homes.append(body["id"])

    def other_member(self) -> dict:
        others = [m for i, m in enumerate(self.shared.members) if i != self.index]
        return random.choice(others)

    def project_cycle(self) -> None:
        self.serial += 1
        name = f"soak {self.index}-{self.serial}"
        status, body, _ = self.call("project_create", "POST", "/projects",
                                    {"name": name, "description": "made by the soak run"}, expect=(201,))
        if status != 201:
            return
        project = body["id"]
        self.projects.append(project)
        self.call("project_patch", "PATCH", f"/projects/{project}",
                  {"description": f"changed at {time.time():.0f}"}, expect=(200,))
        other = self.other_member()
        status, _, _ = self.call("member_add", "POST", f"/projects/{project}/members",
                                 {"user_id": other["id"], "role": "viewer"}, expect=(201,))
        if status == 201:
            self.call("member_remove", "DELETE", f"/projects/{project}/members/{other['id']}", expect=(204,))
        if len(self.projects) > OWN_PROJECTS:
            oldest = self.projects.pop(1)   # never the home project
            self.call("project_delete", "DELETE", f"/projects/{oldest}", expect=(204,))

    def relogin(self) -> None:
        old = self.access
        if self.login({"email": self.me["email"]}):
            self.call("logout", "POST", "/auth/logout", expect=(204,), token=old)

    def step(self) -> None:
        now = time.monotonic()
        if now >= self.next_refresh:
            self.next_refresh = now + REFRESH_EVERY * random.uniform(0.8, 1.2)
            self.rotate()
            return
        if self.shared.login_due():
            self.relogin()
            return
        if now >= self.next_export:
            self.next_export = now + EXPORT_EVERY * random.uniform(0.8, 1.2)
            if self.export_id:
                self.call("export_get", "GET", f"/exports/{self.export_id}", expect=(200,))
            status, body, _ = self.call("export_create", "POST", "/exports",
                                        {"resource": "projects", "format": random.choice(["csv", "ndjson"])},
                                        expect=(202,))
            if status == 202:
                self.export_id = body["id"]
            return
        # Per 100 steps: 84 reads, 10 profile changes, 5 project cycles (4 or 5 writes each), 1
        # duplicate name; about 70 % of the requests read and 30 % write.
        roll = random.random() * 100
        if roll < 30:
            self.call("me", "GET", "/users/me")
        elif roll < 52:
            self.call("projects_list", "GET", "/projects?limit=20")
        elif roll < 84:
            self.call("project_get", "GET", f"/projects/{random.choice(self.projects)}")
        elif roll < 94:
            self.call("me_patch", "PATCH", "/users/me", {"full_name": f"Soak Member {self.index} {random.randrange(10**6)}"})
        elif roll < 99:
            self.project_cycle()
        else:
            self.call("project_dup", "POST", "/projects", {"name": self.home_name}, expect=(409,))

    def run(self) -> None:
        while not self.stop.is_set():
            self.step()


class Admin(Client):
    def __init__(self, shared: Shared, **kw) -> None:
        super().__init__(**kw)
        self.shared = shared
        now = time.monotonic()
        self.next_refresh = now + REFRESH_EVERY
        self.next_export = now + random.uniform(0, ADMIN_EXPORT_EVERY)

    def step(self) -> None:
        now = time.monotonic()
        if now >= self.next_refresh:
            self.next_refresh = now + REFRESH_EVERY * random.uniform(0.8, 1.2)
            self.rotate()
            return
        if now >= self.next_export:
            self.next_export = now + ADMIN_EXPORT_EVERY * random.uniform(0.8, 1.2)
            self.call("export_users", "POST", "/exports", {"resource": "users", "format": "csv"}, expect=(202,))
            return
        roll = random.random() * 100
        if roll < 40:
            self.call("users_list", "GET", "/users?limit=20")
        elif roll < 60:
            self.call("projects_all", "GET", "/projects?scope=all&limit=20")
        elif roll < 85:
            self.call("project_get_admin", "GET", f"/projects/{random.choice(self.shared.homes)}")
        elif roll < 95:
            self.call("me", "GET", "/users/me")
        else:
            self.call("stats", "GET", "/dashboard/stats")

    def run(self) -> None:
        while not self.stop.is_set():
            self.step()


# ---------------------------------------------------------------- WebSocket clients


def ws_client(index: int, port: int, member: dict, stats: Stats, stop: threading.Event, note) -> None:
    """Keeps one socket open for the whole run; counts events; reconnects (resuming) if dropped."""
    from websockets.sync.client import connect
    from websockets.exceptions import ConnectionClosed

    last_event_id = None
    helper = Client(port, Stats(), stop, 1.0, note)   # its own login, not counted in the load
    while not stop.is_set():
        if not helper.login({"email": member["email"]}, paced=False):
            note(f"ws {index}: login failed")
            stop.wait(5)
            continue
        url = f"ws://127.0.0.1:{port}/api/v1/ws"
        if last_event_id:
            url += f"?last_event_id={last_event_id}"
        try:
            with connect(url, additional_headers={"Authorization": f"Bearer {helper.access}"},
                         proxy=None, compression=None, open_timeout=30) as ws:
                with stats.lock:
                    stats.ws_open += 1
                try:
                    next_ping = time.monotonic() + 20
                    while not stop.is_set():
                        try:
                            raw = ws.recv(timeout=1)
                        except TimeoutError:
                            raw = None
                        if raw is not None:
                            message = json.loads(raw)
                            kind = message.get("type", "?")
                            if "id" in message and kind not in ("ready", "pong", "error", "resync"):
                                last_event_id = message["id"]
                                stats.ws_event(kind)
                            elif kind in ("error", "resync"):
                                note(f"ws {index}: {raw[:300]}")
                        if time.monotonic() >= next_ping:
                            ws.send(json.dumps({"type": "ping"}))
                            next_ping = time.monotonic() + 20
                finally:
                    with stats.lock:
                        stats.ws_open -= 1
        except ConnectionClosed as e:
            if stop.is_set():
                return
            reason = f"closed {e.rcvd.code if e.rcvd else 'without a close frame'} {e.rcvd.reason if e.rcvd else ''}"
            stats.ws_drop(reason)
            note(f"{time.strftime('%H:%M:%S')} ws {index}: {reason}")
        except (OSError, Exception) as e:  # noqa: BLE001 - a failed handshake of any kind is reported
            if stop.is_set():
                return
            stats.ws_drop(type(e).__name__)
            note(f"{time.strftime('%H:%M:%S')} ws {index}: {e!r}")
            stop.wait(1)


# ---------------------------------------------------------------- the server


def psql(sql: str) -> None:
    subprocess.run(["psql", "-h", PG_HOST, "-p", PG_PORT, "-U", PG_USER, "-d", "postgres",
                    "-v", "ON_ERROR_STOP=1", "-q", "-c", sql], check=True, capture_output=True, text=True)


def wait_ready(port: int, process: subprocess.Popen, logfile: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server exited with {process.returncode}:\n{logfile.read_text()[-2000:]}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/health/ready")
            if conn.getresponse().status == 200:
                conn.close()
                return
            conn.close()
        except OSError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"the server was not ready within {timeout} s")


def register_members(port: int, stats: Stats, stop: threading.Event, tag: str, note) -> list[dict]:
    setup = Client(port, stats, stop, 1.0, note)
    members = []
    for i in range(MEMBERS):
        body = {"email": f"member{i}.{tag}@soak.example.com", "username": f"soak_{tag}_{i}",
                "password": PASSWORD, "full_name": f"Soak Member {i}"}
        status, created, _ = setup.call("setup", "POST", "/auth/register", body, expect=(201,), token=None, paced=False)
        if status != 201:
            raise SystemExit(f"registering member {i} failed: {status} {created}")
        members.append({"id": created["id"], "email": body["email"]})
    return members


def linear_slope(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of y over x."""
    if len(points) < 2:
        return float("nan")
    mx = statistics.fmean(x for x, _ in points)
    my = statistics.fmean(y for _, y in points)
    sxx = sum((x - mx) ** 2 for x, _ in points)
    return sum((x - mx) * (y - my) for x, y in points) / sxx if sxx else float("nan")


def main() -> int:
    if not FORGE.exists():
        print(f"{FORGE} is missing; build it with: cargo build --release --locked -p forge-server --bin forge",
              file=sys.stderr)
        return 2
    if DATABASE not in ("sqlite", "postgres"):
        print(f"SOAK_DATABASE must be sqlite or postgres, not {DATABASE!r}", file=sys.stderr)
        return 2
    try:
        import websockets  # noqa: F401
        ws_available = True
    except ImportError:
        ws_available = False
    ws_clients = min(WS_CLIENTS, MEMBERS) if ws_available else 0

    OUT.mkdir(parents=True, exist_ok=True)
    tag = secrets.token_hex(4)
    label = DATABASE + ("-redis" if REDIS_URL else "")
    name = f"{label}-{time.strftime('%Y%m%d-%H%M%S')}"
    logfile = OUT / f"{name}.server.log"
    csv_path = OUT / f"{name}.csv"
    notes_file = OUT / f"{name}.client.log"
    notes_handle = open(notes_file, "w")
    notes_lock = threading.Lock()
    unexpected_lines = Counter()

    def note(line: str) -> None:
        with notes_lock:
            notes_handle.write(line + "\n")
            notes_handle.flush()
            unexpected_lines["n"] += 1

    port = int(os.environ.get("SOAK_PORT") or free_port())
    data_dir = Path(tempfile.mkdtemp(prefix="forge-soak-"))
    pg_database = f"forge_soak_{tag}" if DATABASE == "postgres" else None
    redis_prefix = f"soak{tag}" if REDIS_URL else None
    env = {k: v for k, v in os.environ.items() if not k.startswith("FORGE_")}
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    env.update({
        "FORGE_DATA_DIR": str(data_dir),
        "FORGE_BIND": f"127.0.0.1:{port}",
        "FORGE_JWT_SECRET": JWT_SECRET,
        "RUST_LOG": "warn",
        # Request limits and the lockout would refuse a load generator making every request from one address.
        "FORGE_RATE_LIMIT__ENABLED": "false",
        "FORGE_RATE_LIMIT__LOCKOUT_ENABLED": "false",
        "FORGE_ADMIN_EMAIL": ADMIN_EMAIL,
        "FORGE_ADMIN_USERNAME": "soakadmin",
        "FORGE_ADMIN_PASSWORD": PASSWORD,
    })
    if pg_database:
        env["DATABASE_URL"] = f"postgres://{PG_USER}@{PG_HOST}:{PG_PORT}/{pg_database}"
    if REDIS_URL:
        env["REDIS_URL"] = REDIS_URL
        env["FORGE_REDIS__PREFIX"] = redis_prefix

    stats = Stats()
    stop = threading.Event()
    process = None
    log_handle = open(logfile, "wb")
    samples: list[dict] = []
    exit_code = None
    try:
        if pg_database:
            psql(f"CREATE DATABASE {pg_database}")
            subprocess.run([str(FORGE), "migrate", "up"], env=env, stdout=log_handle, stderr=subprocess.STDOUT, check=True)
        process = subprocess.Popen([str(FORGE), "serve"], env=env, stdout=log_handle, stderr=subprocess.STDOUT)
        wait_ready(port, process, logfile)
        pid = process.pid
        log(f"forge {FORGE} pid {pid} on 127.0.0.1:{port}, {label}"
            + (f" (database {pg_database})" if pg_database else "")
            + (f" (Redis {REDIS_URL}, prefix {redis_prefix})" if REDIS_URL else ""))
        rss_idle = int(proc_status(pid)["VmRSS"].split()[0])

        shared = Shared()
        shared.members = register_members(port, stats, stop, tag, note)
        per_client = RATE / (MEMBERS + 1)
        kw = dict(port=port, stats=stats, stop=stop, rate=per_client, unexpected_log=note)
        admin = Admin(shared, **kw)
        assert admin.login({"email": ADMIN_EMAIL}, paced=False), "admin login failed"
        members = [Member(i, shared, **kw) for i in range(MEMBERS)]
        for m in members:
            m.setup()
        setup_counts = dict(stats.total)
        with stats.lock:
            stats.total.clear()
            stats.op_counts.clear()
            stats.window.clear()
            stats.window_latencies.clear()

        ws_threads = []
        for i in range(ws_clients):
            t = threading.Thread(target=ws_client, args=(i, port, shared.members[i % MEMBERS], stats, stop, note), daemon=True)
            t.start()
            ws_threads.append(t)
        if ws_clients:
            deadline = time.monotonic() + 30
            while stats.ws_open < ws_clients and time.monotonic() < deadline:
                time.sleep(0.1)
            log(f"{stats.ws_open} of {ws_clients} WebSocket clients connected")
        else:
            log("the websockets package is missing: running without WebSocket clients")

        threads = [threading.Thread(target=c.run, daemon=True) for c in [admin, *members]]
        started = time.monotonic()
        started_wall = time.time()
        for t in threads:
            t.start()
        duration = MINUTES * 60
        log(f"load: {RATE:.0f} requests/s from {len(threads)} clients and {ws_clients} sockets for "
            f"{MINUTES:g} min ({WARMUP:.0f} s warm-up); samples every {SAMPLE:.0f} s to {OUT / (name + '.csv')}")
        stats.take_window()
        next_sample = started + SAMPLE
        window_started = started
        while True:
            stop.wait(max(0.0, next_sample - time.monotonic()))
            window = stats.take_window()
            now = time.monotonic()
            elapsed = now - started
            window_seconds, window_started = now - window_started, now
            if process.poll() is not None:
                log(f"the server exited during the run with {process.returncode}")
                break
            status = proc_status(pid)
            lat = window["latencies"]
            counts = window["counts"]
            sample = {
                "t_s": round(elapsed, 1),
                # Wall-clock time: a gap between two samples that t_s does not show means the
                # machine itself was suspended (the monotonic clock stops meanwhile).
                "time": time.strftime("%H:%M:%S"),
                "phase": "warmup" if elapsed <= WARMUP + 0.5 else "measure",
                "requests": counts["requests"],
                "rps": round(counts["requests"] / window_seconds, 1),
                "ok": counts["ok"],
                "expected_4xx": counts["expected_4xx"],
                "unexpected_4xx": counts["unexpected_4xx"],
                "errors": counts["error"],
                "error_detail": ";".join(f"{k}={v}" for k, v in sorted(window["errors"].items())),
                "unexpected_detail": ";".join(f"{k}={v}" for k, v in sorted(window["unexpected"].items())),
                "p50_ms": round(percentile(lat, 50), 2),
                "p99_ms": round(percentile(lat, 99), 2),
                "max_ms": round(max(lat), 2) if lat else "",
                "rss_kib": int(status["VmRSS"].split()[0]),
                # Heap and stacks, apart from mapped files (the binary's pages, SQLite's -shm).
                "rss_anon_kib": int(status["RssAnon"].split()[0]),
                "rss_file_kib": int(status["RssFile"].split()[0]),
                "threads": int(status["Threads"]),
                "fds": len(os.listdir(f"/proc/{pid}/fd")),
                "ws_open": window["ws_open"],
                "ws_events": window["ws_events"],
                "ws_drops": window["ws_drops"],
                "data_dir_kib": dir_kib(data_dir),
                # The median latency of each operation in the window, to see which one drifts.
                "p50_by_op_ms": ";".join(f"{op}={percentile(v, 50):.2f}" for op, v in sorted(window["by_op"].items())),
                "loadavg1": float(Path("/proc/loadavg").read_text().split()[0]),
            }
            samples.append(sample)
            # Written as it comes, so that a run cut short keeps its samples.
            with open(csv_path, "a", newline="") as f:
                writer = csv.DictWriter(f, fieldnames=list(sample.keys()))
                if len(samples) == 1:
                    writer.writeheader()
                writer.writerow(sample)
            if elapsed >= WARMUP - 0.5 and not stats.measuring:
                with stats.lock:
                    stats.measuring = True
            log(f"t={sample['t_s']:>6}s {sample['rps']:>6} req/s  errors {sample['errors']}"
                f"{' (' + sample['error_detail'] + ')' if sample['error_detail'] else ''}"
                f"  unexpected 4xx {sample['unexpected_4xx']}  p50 {sample['p50_ms']} ms  p99 {sample['p99_ms']} ms"
                f"  RSS {sample['rss_kib'] / 1024:.1f} MiB  threads {sample['threads']}  fds {sample['fds']}"
                f"  ws events {sample['ws_events']} open {sample['ws_open']}  load {sample['loadavg1']}")
            if process.poll() is not None:
                log(f"the server exited during the run with {process.returncode}")
                break
            if elapsed >= duration - 0.5:
                with stats.lock:
                    stats.closed = True
                break
            next_sample += SAMPLE
        stop.set()
        for t in threads:
            t.join(timeout=70)
        for t in ws_threads:
            t.join(timeout=15)
        rss_before_stop = int(proc_status(pid)["VmRSS"].split()[0]) if process.poll() is None else None
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                exit_code = process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                exit_code = process.wait()
        else:
            exit_code = process.returncode
        data_kib = dir_kib(data_dir)
    finally:
        stop.set()
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()
        log_handle.close()
        notes_handle.close()
        if os.environ.get("SOAK_KEEP_DATA"):
            log(f"data dir kept: {data_dir}")
        else:
            shutil.rmtree(data_dir, ignore_errors=True)
        if pg_database and os.environ.get("SOAK_KEEP_DATA"):
            log(f"database kept: {pg_database}")
        elif pg_database:
            try:
                psql(f"DROP DATABASE IF EXISTS {pg_database} WITH (FORCE)")
            except subprocess.CalledProcessError as e:
                log(f"could not drop {pg_database}: {e.stderr}")
        if redis_prefix and os.environ.get("SOAK_KEEP_DATA"):
            log(f"Redis keys kept: {redis_prefix}:*")
        elif redis_prefix:
            try:
                keys = subprocess.run(["redis-cli", "-u", REDIS_URL, "--scan", "--pattern", f"{redis_prefix}:*"],
                                      capture_output=True, text=True, check=True).stdout.split()
                for i in range(0, len(keys), 500):
                    subprocess.run(["redis-cli", "-u", REDIS_URL, "DEL", *keys[i:i + 500]], capture_output=True, check=True)
            except (OSError, subprocess.CalledProcessError) as e:
                log(f"could not delete the Redis keys {redis_prefix}:*: {e}")

    # ------------------------------------------------------------ the figures

    if not samples:
        log(f"FAILED: no sample was taken (server exit code {exit_code}); see {logfile}")
        return 1
    measured = [s for s in samples if s["phase"] == "measure"]
    per_minute = max(1, round(60 / SAMPLE))
    # The warm-up figure is the sample taken when the warm-up ends, and the minute from there.
    first_minute = [s for s in samples if s["t_s"] >= WARMUP - 0.5][:per_minute] or samples[-per_minute:]
    warm = first_minute[0]
    warm_rss = warm["rss_kib"]
    end_rss = samples[-1]["rss_kib"]
    # Medians over a minute, so that one hashing block (19 MiB, held while logins come and given
    # back 10 s after the last) taken or given back at the moment of one sample does not decide.
    warm_rss_med = statistics.median(s["rss_kib"] for s in first_minute)
    end_rss_med = statistics.median(s["rss_kib"] for s in samples[-per_minute:])
    tail = measured[len(measured) // 3:]
    slope = linear_slope([(s["t_s"] / 60, s["rss_kib"]) for s in tail])
    anon_slope = linear_slope([(s["t_s"] / 60, s["rss_anon_kib"]) for s in tail])
    max_rss = max(s["rss_kib"] for s in samples)
    bound_kib = warm_rss_med * (1 + RSS_BOUND_PCT / 100)
    within = end_rss_med <= bound_kib
    load_seconds = samples[-1]["t_s"]
    total_requests = stats.total["requests"]
    errors = stats.total["error"]
    lat = stats.measured_latencies
    by_op = {op: {"count": len(v), "p50_ms": round(percentile(v, 50), 2), "p99_ms": round(percentile(v, 99), 2)}
             for op, v in sorted(stats.by_op.items())}
    server_log = logfile.read_text(errors="replace").splitlines()
    log_levels = Counter()
    for line in server_log:
        for level in ("ERROR", "WARN", "panicked"):
            if level in line:
                log_levels[level] += 1
    windows_p99 = [s["p99_ms"] for s in measured]
    summary = {
        "name": name,
        "database": label,
        "binary": str(FORGE),
        "started": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(started_wall)),
        "cores": os.cpu_count(),
        "minutes": MINUTES,
        "warmup_s": WARMUP,
        "target_rps": RATE,
        "clients": MEMBERS + 1,
        "ws_clients": ws_clients,
        "load_seconds": load_seconds,
        "requests": total_requests,
        "rps": round(total_requests / load_seconds, 1),
        "ok": stats.total["ok"],
        "expected_4xx": stats.total["expected_4xx"],
        "unexpected_4xx": stats.total["unexpected_4xx"],
        "unexpected_detail": dict(stats.unexpected),
        "errors": errors,
        "error_detail": dict(stats.errors),
        "error_rate": errors / total_requests if total_requests else 0,
        "p50_ms": round(percentile(lat, 50), 2),
        "p99_ms": round(percentile(lat, 99), 2),
        "max_ms": round(max(lat), 2) if lat else None,
        "window_p99_ms_max": max(windows_p99) if windows_p99 else None,
        "window_p99_ms_median": round(statistics.median(windows_p99), 2) if windows_p99 else None,
        "by_op": by_op,
        "setup_requests": setup_counts.get("requests", 0),
        "rss_idle_kib": rss_idle,
        "rss_warmup_kib": warm_rss,
        "rss_end_kib": end_rss,
        "rss_warmup_median_kib": warm_rss_med,
        "rss_end_median_kib": end_rss_med,
        "rss_max_kib": max_rss,
        "rss_before_stop_kib": rss_before_stop,
        "rss_slope_kib_per_min": round(slope, 1),
        "rss_anon_warmup_kib": warm["rss_anon_kib"],
        "rss_anon_end_kib": samples[-1]["rss_anon_kib"],
        "rss_anon_slope_kib_per_min": round(anon_slope, 1),
        "rss_bound": f"median RSS of the last minute <= median RSS of the first minute after the warm-up + {RSS_BOUND_PCT:g}%",
        "rss_bound_kib": round(bound_kib),
        "rss_within_bound": within,
        "threads_warmup": warm["threads"],
        "threads_end": samples[-1]["threads"],
        "threads_max": max(s["threads"] for s in samples),
        "fds_warmup": warm["fds"],
        "fds_end": samples[-1]["fds"],
        "ws_events": stats.ws_events,
        "ws_event_types": dict(stats.ws_types),
        "ws_drops": stats.ws_drops,
        "data_dir_kib_end": data_kib,
        "server_exit_code": exit_code,
        "server_log_lines": len(server_log),
        "server_log_levels": dict(log_levels),
        "client_log_lines": unexpected_lines["n"],
        "loadavg1_mean": round(statistics.fmean(s["loadavg1"] for s in samples), 2),
    }
    failures = []
    if errors:
        failures.append(f"{errors} errors (5xx or connection): {dict(stats.errors)}")
    if stats.ws_drops:
        failures.append(f"{len(stats.ws_drops)} WebSocket connections dropped: {stats.ws_drops}")
    if not within:
        failures.append(f"RSS {end_rss_med} KiB at the end is above the bound {bound_kib:.0f} KiB")
    if exit_code != 0:
        failures.append(f"the server exited with {exit_code}")
    summary["failures"] = failures
    (OUT / f"{name}.summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    try:
        import matplotlib  # noqa: F401

        subprocess.run([sys.executable, str(ROOT / "scripts" / "soak_chart.py"), str(csv_path)], check=False)
    except ImportError:
        log("matplotlib is not installed: no chart (pip install matplotlib)")

    mib = lambda kib: f"{kib / 1024:.1f} MiB"  # noqa: E731
    text = [
        f"soak {name}: {label}, {MINUTES:g} min ({WARMUP:.0f} s warm-up), {os.cpu_count()} cores, "
        f"mean load average {summary['loadavg1_mean']}",
        f"requests {total_requests} in {load_seconds:.0f} s = {summary['rps']} req/s "
        f"(target {RATE:.0f}; {MEMBERS + 1} clients, {ws_clients} sockets)",
        f"ok {summary['ok']}, expected 4xx {summary['expected_4xx']}, unexpected 4xx {summary['unexpected_4xx']}"
        f"{' ' + str(dict(stats.unexpected)) if stats.unexpected else ''}",
        f"errors {errors} (rate {summary['error_rate']:.2e}){' ' + str(dict(stats.errors)) if errors else ''}",
        f"latency after warm-up: p50 {summary['p50_ms']} ms, p99 {summary['p99_ms']} ms, max {summary['max_ms']} ms; "
        f"p99 of 10 s windows: median {summary['window_p99_ms_median']} ms, max {summary['window_p99_ms_max']} ms",
        f"RSS idle {mib(rss_idle)}, after warm-up {mib(warm_rss)}, end {mib(end_rss)}, max {mib(max_rss)}; "
        f"slope over the last two thirds {summary['rss_slope_kib_per_min']} KiB/min",
        f"of which anonymous (heap, stacks): after warm-up {mib(warm['rss_anon_kib'])}, end "
        f"{mib(samples[-1]['rss_anon_kib'])}, slope {summary['rss_anon_slope_kib_per_min']} KiB/min",
        f"bound: {summary['rss_bound']}: {mib(end_rss_med)} <= {mib(bound_kib)}: {'yes' if within else 'NO'}",
        f"threads {summary['threads_warmup']} -> {summary['threads_end']} (max {summary['threads_max']}), "
        f"open files {summary['fds_warmup']} -> {summary['fds_end']}",
        f"WebSocket events received {stats.ws_events} {dict(stats.ws_types)}, drops {len(stats.ws_drops)}",
        f"data dir at the end {mib(data_kib)}; server exit code {exit_code}; server log {len(server_log)} lines "
        f"{dict(log_levels)}",
        "per operation (after warm-up): " + ", ".join(f"{op} {v['count']} p50 {v['p50_ms']} p99 {v['p99_ms']}"
                                                      for op, v in by_op.items()),
        "FAILED: " + "; ".join(failures) if failures else "passed",
        f"files: {csv_path}, {OUT / (name + '.summary.json')}, {logfile}, {notes_file}",
    ]
    (OUT / f"{name}.summary.txt").write_text("\n".join(text) + "\n")
    print("\n".join(text))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
