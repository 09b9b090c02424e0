#!/usr/bin/env python3
"""Fault tests against the real server (target/debug/forge), each a subcommand:

  sigterm     200 project creations in flight (heads sent, bodies half sent) when the server gets
              SIGTERM: every one must be answered 201, the server must exit 0, and all 200
              projects must be there after a restart.
  pg-restart  a private PostgreSQL cluster (initdb on a free port in a temp dir, run as the
              postgres OS user; the shared cluster is never touched) is stopped for 12 s and
              started again under a write load from 4 clients: no acknowledged write may be lost;
              every request made while it is down must be answered, with 503 once the pool gives
              up waiting for a connection (10 s) or with 201 if the database came back first, never
              left hanging past that wait; and writes must succeed again within 5 s of its
              return.
  slow-db     a table of a private PostgreSQL cluster held locked (LOCK TABLE ... ACCESS
              EXCLUSIVE) for 8 s under 4 writing clients, with a 3 s request time limit: every
              write meanwhile answered 504 or 503 within the limit, writes succeed after.
  sqlite-disk-full
              the SQLite database's file system (a tmpfs of its own; needs root to mount it)
              filled up under a write load, then given space again: 503s during the fault,
              writes after it, no acknowledged write lost, `PRAGMA integrity_check` ok.
              NOT PASSING YET, so not run by .ci/run: see docs/security.md.

Prints one line of figures per test and exits non-zero on any failed expectation. Uses only
Python's standard library. Run from the repository root after `cargo build -p forge-server`:

  python3 scripts/faults.py sigterm
  python3 scripts/faults.py pg-restart
  python3 scripts/faults.py slow-db
  python3 scripts/faults.py sqlite-disk-full
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

BIN = os.path.abspath("target/debug/forge")
ADMIN_PASSWORD = "Fault-Test-Root-2026!"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`forge serve` on a free port, with the data dir and database it is given."""

    def __init__(self, data_dir, database_url=None, extra_env=None):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = dict(os.environ)
        env.update(
            {
                "FORGE_DATA_DIR": data_dir,
                "FORGE_BIND": f"127.0.0.1:{self.port}",
                "RUST_LOG": "warn",
                "FORGE_RATE_LIMIT__ENABLED": "false",
                "FORGE_RATE_LIMIT__LOCKOUT_ENABLED": "false",
                "FORGE_ADMIN__EMAIL": "admin@example.com",
                "FORGE_ADMIN__USERNAME": "admin",
                "FORGE_ADMIN__PASSWORD": ADMIN_PASSWORD,
            }
        )
        if database_url:
            env["DATABASE_URL"] = database_url
        env.update(extra_env or {})
        self.log = open(os.path.join(data_dir, f"server-{self.port}.log"), "w")
        if database_url:
            # A server database is migrated by the operator, not at start-up.
            subprocess.run([BIN, "migrate", "up"], env=env, stdout=self.log, stderr=subprocess.STDOUT, check=True)
        self.process = subprocess.Popen([BIN, "serve"], env=env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.log.close()
                with open(self.log.name) as log:
                    tail = log.read()[-2000:]
                raise SystemExit(f"the server exited with {self.process.returncode}:\n{tail}")
            try:
                if request(self.base, "GET", "/health/live")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise SystemExit("the server did not start")

    def token(self):
        status, body = request(
            self.base,
            "POST",
            "/api/v1/auth/login",
            {"email": "admin@example.com", "password": ADMIN_PASSWORD},
        )
        assert status == 200, (status, body)
        return body["access_token"]

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=60)
        self.log.close()


def request(base, method, path, body=None, token=None, timeout=60):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method)
    if body is not None:
        req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as res:
            raw = res.read()
            return res.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as e:
        raw = e.read()
        try:
            return e.code, json.loads(raw)
        except ValueError:
            return e.code, raw


def count_projects(server, token):
    status, body = request(server.base, "GET", "/api/v1/projects?scope=all&limit=1", token=token)
    assert status == 200, (status, body)
    return body["total"]


def check(condition, message, failures):
    if not condition:
        failures.append(message)
        print("FAILED:", message)


def sigterm():
    failures = []
    data_dir = tempfile.mkdtemp(prefix="forge-sigterm-")
    try:
        server = Server(data_dir)
        token = server.token()
        in_flight = 200
        sockets = []
        bodies = []
        for i in range(in_flight):
            body = json.dumps({"name": f"in-flight-{i:03}"}).encode()
            head = (
                "POST /api/v1/projects HTTP/1.1\r\n"
                f"Host: 127.0.0.1:{server.port}\r\n"
                f"Authorization: Bearer {token}\r\n"
                "Content-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n"
                "Connection: close\r\n\r\n"
            ).encode()
            s = socket.create_connection(("127.0.0.1", server.port), timeout=60)
            s.sendall(head + body[: len(body) // 2])
            sockets.append(s)
            bodies.append(body[len(body) // 2 :])
        time.sleep(1.0)  # every head is read and its handler waits for the rest of the body
        server.process.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        refused = False
        try:
            socket.create_connection(("127.0.0.1", server.port), timeout=2).close()
        except OSError:
            refused = True
        statuses = []
        for s, rest in zip(sockets, bodies):
            s.sendall(rest)
        for s in sockets:
            answer = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                answer += chunk
            s.close()
            line = answer.split(b"\r\n", 1)[0].decode(errors="replace")
            statuses.append(int(line.split()[1]) if line.startswith("HTTP/1.1 ") else 0)
        exit_code = server.process.wait(timeout=60)
        server.log.close()
        answered = statuses.count(201)
        check(answered == in_flight, f"{answered} of {in_flight} in-flight requests got 201: {sorted(set(statuses))}", failures)
        check(exit_code == 0, f"the server exited with {exit_code}", failures)
        check(refused, "new connections were still accepted after SIGTERM", failures)
        again = Server(data_dir)
        stored = count_projects(again, again.token())
        again.stop()
        check(stored == in_flight, f"{stored} of {in_flight} projects stored after the restart", failures)
        print(
            f"sigterm: {in_flight} requests in flight at SIGTERM, {answered} answered 201, "
            f"{stored} stored after restart, exit code {exit_code}, new connections refused: {refused}"
        )
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
    return failures


# How long the database stays down, and how long the pool waits for a connection before the
# request is answered 503 (ACQUIRE_TIMEOUT in forge-infrastructure).
DOWN_SECS = 12
POOL_WAIT_SECS = 10


def pg_bin(name):
    versions = sorted(os.listdir("/usr/lib/postgresql"))
    return f"/usr/lib/postgresql/{versions[-1]}/bin/{name}"


def as_postgres(args, **kwargs):
    """Runs a PostgreSQL tool as the postgres OS user when this runs as root (initdb refuses root)."""
    if os.geteuid() == 0:
        args = ["runuser", "-u", "postgres", "--"] + args
    return subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, **kwargs)


class PrivatePostgres:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="forge-pg-")
        os.chmod(self.dir, 0o755)
        self.data = os.path.join(self.dir, "data")
        self.port = free_port()
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
        as_postgres([pg_bin("initdb"), "-D", self.data, "-U", "postgres", "--auth=trust", "-E", "UTF8"])
        self.start()

    def start(self):
        as_postgres(
            [
                pg_bin("pg_ctl"), "-D", self.data, "-w", "-l", os.path.join(self.dir, "pg.log"),
                "-o", f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=on",
                "start",
            ]
        )

    def stop(self):
        as_postgres([pg_bin("pg_ctl"), "-D", self.data, "-w", "-m", "fast", "stop"])

    def url(self):
        return f"postgres://postgres@127.0.0.1:{self.port}/postgres"

    def destroy(self):
        try:
            self.stop()
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(self.dir, ignore_errors=True)


def pg_restart():
    failures = []
    data_dir = tempfile.mkdtemp(prefix="forge-pg-restart-")
    pg = PrivatePostgres()
    try:
        server = Server(data_dir, database_url=pg.url())
        token = server.token()
        acknowledged = []
        outcomes = []  # (start, end, status)
        lock = threading.Lock()
        stop = threading.Event()

        def writer(w):
            n = 0
            while not stop.is_set():
                name = f"w{w}-{n}"
                n += 1
                start = time.monotonic()
                try:
                    status, body = request(server.base, "POST", "/api/v1/projects", {"name": name}, token, timeout=30)
                except OSError:
                    status, body = 0, None
                end = time.monotonic()
                with lock:
                    outcomes.append((start, end, status))
                    if status == 201:
                        acknowledged.append(body["id"])
                if status != 201:
                    time.sleep(0.05)

        threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
        for t in threads:
            t.start()
        time.sleep(3)
        down_at = time.monotonic()
        pg.stop()
        stopped_at = time.monotonic()
        time.sleep(DOWN_SECS)
        restart_at = time.monotonic()
        pg.start()
        up_at = time.monotonic()
        if os.environ.get("FAULTS_DEBUG"):
            print(f"  stop took {stopped_at - down_at:.2f} s, down until {up_at - down_at:.2f} s")
        deadline = up_at + 15
        recovered_at = None
        while time.monotonic() < deadline and recovered_at is None:
            time.sleep(0.05)
            with lock:
                recovered_at = next((e for s, e, st in outcomes if st == 201 and s >= up_at), None)
        time.sleep(2)
        stop.set()
        for t in threads:
            t.join()

        if os.environ.get("FAULTS_DEBUG"):
            for s, e, st in outcomes:
                if s >= down_at - 1:
                    print(f"  {s - down_at:7.2f} {e - s:6.2f} {st}")
        # Requests started from the moment the stop begins until the database is back.
        during = [(s, e, st) for s, e, st in outcomes if down_at <= s < up_at]
        statuses = sorted({st for _, _, st in during})
        slowest = max((e - s for s, e, _ in during), default=0)
        unavailable = sum(1 for _, _, st in during if st == 503)
        check(bool(during), "no request was made while the database was down", failures)
        check(set(statuses) <= {201, 503, 504}, f"answers while the database was down: {statuses}", failures)
        check(unavailable > 0, "no 503 while the database was down", failures)
        # A write that began while `pg_ctl stop` was still running may commit before the server
        # goes: only one that began after the stop had finished and was acknowledged before the
        # restart began would be acknowledged by a database that was down.
        early = [(s, e) for s, e, st in during if st == 201 and s >= stopped_at and e < restart_at]
        check(not early, f"{len(early)} writes acknowledged while the database was down", failures)
        check(slowest <= POOL_WAIT_SECS + 1.5, f"a request waited {slowest:.2f} s while the database was down", failures)
        recovery = None if recovered_at is None else recovered_at - up_at
        check(recovery is not None and recovery <= 5, f"writes succeeded again after {recovery} s", failures)
        missing = []
        for project_id in acknowledged:
            status, _ = request(server.base, "GET", f"/api/v1/projects/{project_id}", token=token)
            if status != 200:
                missing.append((project_id, status))
        check(not missing, f"{len(missing)} acknowledged writes are missing: {missing[:5]}", failures)
        server.stop()
        print(
            f"pg-restart: {len(outcomes)} writes, {len(acknowledged)} acknowledged, {len(missing)} lost; "
            f"{len(during)} requests while down ({unavailable} answered 503, the others {statuses}), "
            f"slowest {slowest:.2f} s; "
            f"first write {recovery if recovery is None else round(recovery, 2)} s after the database returned"
        )
    finally:
        pg.destroy()
        shutil.rmtree(data_dir, ignore_errors=True)
    return failures


def sqlite_disk_full():
    """The SQLite database on a tmpfs of its own, filled up under a write load for 4 s, then given
    space again: every failed write must be a 503, writes must resume, and the database must pass
    `PRAGMA integrity_check` with every acknowledged project in it after a restart. (A read-only
    remount cannot be tested this way: Linux refuses it while the database files are open for
    writing.)"""
    kind = "disk-full"
    import sqlite3

    failures = []
    mount = tempfile.mkdtemp(prefix=f"forge-sqlite-{kind}-")
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", mount], check=True)
    try:
        server = Server(mount)
        token = server.token()
        acknowledged, outcomes = [], []
        lock = threading.Lock()
        stop = threading.Event()
        filler = os.path.join(mount, "filler")

        def writer(w):
            n = 0
            while not stop.is_set():
                name = f"w{w}-{n}-" + "x" * 60
                n += 1
                started = time.monotonic()
                try:
                    status, body = request(server.base, "POST", "/api/v1/projects", {"name": name[:100], "description": "d" * 1500}, token, timeout=30)
                except OSError:
                    status, body = 0, None
                with lock:
                    outcomes.append((time.monotonic(), status, started, body))
                    if status == 201:
                        acknowledged.append(body["id"])
                if status != 201:
                    time.sleep(0.05)

        threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
        for t in threads:
            t.start()
        time.sleep(2)
        fault_at = time.monotonic()
        # Fill what is left of the file system, so the database cannot grow.
        with open(filler, "wb") as f:
            try:
                while True:
                    f.write(b"\0" * (1 << 20))
                    f.flush()
            except OSError:
                pass
        time.sleep(4)
        healed_at = time.monotonic()
        os.remove(filler)
        time.sleep(3)
        stop.set()
        for t in threads:
            t.join()

        if os.environ.get("FAULTS_DEBUG"):
            for at, st, started, body in outcomes:
                if at >= fault_at - 0.3:
                    detail = body.get("detail") if isinstance(body, dict) and st != 201 else ""
                    print(f"  {started - fault_at:7.2f} {at - started:6.2f} {st} {detail}")
        during = [st for at, st, _, _ in outcomes if fault_at + 0.5 <= at < healed_at]
        after = [st for at, st, _, _ in outcomes if at >= healed_at + 1]
        refused = during.count(503)
        check(bool(during) and set(during) <= {201, 503}, f"answers during the fault: {sorted(set(during))}", failures)
        check(refused > 0, "no 503 during the fault", failures)
        check(after.count(201) > 0, f"no write succeeded after the fault: {sorted(set(after))}", failures)
        server.stop()
        db = sqlite3.connect(os.path.join(mount, "forge.db"))
        integrity = db.execute("PRAGMA integrity_check").fetchone()[0]
        db.close()
        again = Server(mount)
        again_token = again.token()
        answers = {i: request(again.base, "GET", f"/api/v1/projects/{i}", token=again_token) for i in acknowledged}
        missing = [i for i, (status, _) in answers.items() if status != 200]
        if os.environ.get("FAULTS_DEBUG"):
            db = sqlite3.connect(os.path.join(mount, "forge.db"))
            for i in missing[:3]:
                rows = db.execute("SELECT count(*) FROM projects WHERE id = ? OR lower(hex(id)) = ?", (i, i.replace("-", ""))).fetchone()
                print(f"  missing {i}: GET answered {answers[i][0]}, rows in the table: {rows[0]}")
            db.close()
        again.stop()
        if os.environ.get("FAULTS_DEBUG"):
            lost = set(missing)
            for at, st, started, body in outcomes:
                if st == 201 and body["id"] in lost:
                    print(f"  lost: started {started - fault_at:7.2f}, answered {at - fault_at:7.2f}")
        check(integrity == "ok", f"integrity_check: {integrity}", failures)
        check(not missing, f"{len(missing)} acknowledged projects missing, e.g. {missing[:3]}", failures)
        print(
            f"sqlite-{kind}: {len(outcomes)} writes, {len(acknowledged)} acknowledged, {len(missing)} lost; "
            f"during the fault {len(during)} answered {sorted(set(during))} ({refused} x 503); "
            f"{after.count(201)} writes after it; integrity_check {integrity}"
        )
    finally:
        subprocess.run(["umount", "-l", mount], check=False)
        shutil.rmtree(mount, ignore_errors=True)
    return failures


def slow_db():
    """A table held locked in a private PostgreSQL cluster for 8 s while 4 clients write to it,
    with a request time limit of 3 s: every write made meanwhile is answered 504 (or 503) within
    the limit rather than queued without bound, and writes succeed again once the lock goes."""
    failures = []
    data_dir = tempfile.mkdtemp(prefix="forge-slow-db-")
    pg = PrivatePostgres()
    limit = 3
    try:
        server = Server(data_dir, database_url=pg.url(), extra_env={"FORGE_SERVER__REQUEST_TIMEOUT_SECS": str(limit)})
        token = server.token()
        outcomes = []
        lock = threading.Lock()
        stop = threading.Event()

        def writer(w):
            n = 0
            while not stop.is_set():
                start = time.monotonic()
                try:
                    status, _ = request(server.base, "POST", "/api/v1/projects", {"name": f"s{w}-{n}"}, token, timeout=30)
                except OSError:
                    status = 0
                n += 1
                with lock:
                    outcomes.append((start, time.monotonic(), status))

        locker = subprocess.Popen(
            [pg_bin("psql"), "-q", "-h", "127.0.0.1", "-p", str(pg.port), "-U", "postgres", "-d", "postgres",
             "-c", "BEGIN; LOCK TABLE projects IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(8); COMMIT;"],
            stdout=subprocess.DEVNULL,
        )
        time.sleep(0.5)
        locked_at = time.monotonic()
        threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
        for t in threads:
            t.start()
        locker.wait(timeout=60)
        released_at = time.monotonic()
        time.sleep(2)
        stop.set()
        for t in threads:
            t.join()

        # Requests that ended while the lock was surely held (psql exits just after its COMMIT).
        during = [(s, e, st) for s, e, st in outcomes if locked_at <= s and e < released_at - 0.5]
        statuses = sorted({st for _, _, st in during})
        slowest = max((e - s for s, e, _ in during), default=0)
        after = [st for s, _, st in outcomes if s >= released_at + 0.5]
        check(bool(during), "no request finished while the table was locked", failures)
        check(set(statuses) <= {503, 504}, f"answers while the table was locked: {statuses}", failures)
        check(slowest <= limit + 1, f"a request took {slowest:.2f} s with a limit of {limit} s", failures)
        check(after.count(201) > 0, f"no write succeeded after the lock: {sorted(set(after))}", failures)
        server.stop()
        print(
            f"slow-db: {len(during)} writes while the table was locked for 8 s, answered {statuses}, "
            f"slowest {slowest:.2f} s (limit {limit} s); {after.count(201)} of {len(after)} writes after it got 201"
        )
    finally:
        pg.destroy()
        shutil.rmtree(data_dir, ignore_errors=True)
    return failures


TESTS = {
    "slow-db": slow_db,
    "sigterm": sigterm,
    "pg-restart": pg_restart,
    "sqlite-disk-full": sqlite_disk_full,
}

if __name__ == "__main__":
    names = sys.argv[1:] or list(TESTS)
    failed = []
    for name in names:
        failed += TESTS[name]()
    sys.exit(1 if failed else 0)
