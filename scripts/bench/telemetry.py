#!/usr/bin/env python3
"""What metrics and traces cost: the same read (GET /api/v1/users/me, 64 connections, SQLite)
against the release build in four set-ups, each run BENCH_ROUNDS times, interleaved so that a
change of the machine's load touches every set-up alike:

- off:          JSON logs (trace and span ids made for them), no /metrics, no OTLP export;
- metrics:      as off, with /metrics served (bearer token) and scraped every second;
- metrics+otlp: as metrics, with traces sampled at 10% of new traces
                (parentbased_traceidratio 0.1) exported over OTLP/HTTP to a receiver in this
                script that accepts every batch;
- unreachable:  as metrics+otlp, with the collector's port closed.

Writes the medians into docs/performance.md between the telemetry markers (BENCH_WRITE_DOCS=0:
print only). Run it through scripts/bench-telemetry.sh, which builds the release binary first.

Throughput on a shared 2-core machine moves with whatever else runs, so the script also counts
what a request costs in CPU instructions, which does not (BENCH_INSTRUCTIONS=0 skips it): for each
set-up the server runs under valgrind's callgrind, its counters are zeroed once it is warm, exactly
BENCH_REQUESTS reads are sent one after another, and the instructions of every thread of the
server (request handling, logs, metrics, span export) are dumped and divided by the count.
"""

from __future__ import annotations

import datetime
import glob
import http.client
import http.server
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench  # noqa: E402  (the harness's server, wrk and request helpers)

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
METRICS_TOKEN = "bench-metrics-token-0123456789"
BEGIN, END = "<!-- telemetry:begin -->", "<!-- telemetry:end -->"
IBEGIN, IEND = "<!-- telemetry-instructions:begin -->", "<!-- telemetry-instructions:end -->"
REQUESTS = int(os.environ.get("BENCH_REQUESTS", "2000"))
SETUPS = ["off", "metrics", "metrics+otlp", "unreachable"]


class Receiver(http.server.BaseHTTPRequestHandler):
    """An OTLP/HTTP receiver that takes every batch and counts the bytes."""

    received = 0
    batches = 0

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        length = int(self.headers.get("content-length", "0"))
        Receiver.received += len(self.rfile.read(length))
        Receiver.batches += 1
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def setup_env(base: dict[str, str], setup: str, receiver_port: int) -> dict[str, str]:
    env = dict(base)
    env["FORGE_LOG__FORMAT"] = "json"
    for key in [k for k in env if k.startswith("OTEL_")]:
        del env[key]
    if setup != "off":
        env["FORGE_METRICS__TOKEN"] = METRICS_TOKEN
    if setup in ("metrics+otlp", "unreachable"):
        port = receiver_port if setup == "metrics+otlp" else free_port()
        env["OTEL_EXPORTER_OTLP_ENDPOINT"] = f"http://127.0.0.1:{port}"
        env["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf"
        env["OTEL_TRACES_SAMPLER"] = "parentbased_traceidratio"
        env["OTEL_TRACES_SAMPLER_ARG"] = "0.1"
    return env


def scraper(url: str, stop: threading.Event) -> None:
    req = urllib.request.Request(url, headers={"authorization": f"Bearer {METRICS_TOKEN}"})
    while not stop.wait(1.0):
        with urllib.request.urlopen(req, timeout=5) as response:
            response.read()


def one_run(setup: str, base_env: dict[str, str], data_dir: Path, receiver_port: int, token_cache: dict) -> dict:
    env = setup_env(base_env, setup, receiver_port)
    url = f"http://127.0.0.1:{bench.PORT}"
    server = bench.Server(f"telemetry-{setup}", [str(bench.FORGE), "serve"], env, f"{url}/health/ready", data_dir)
    server.start()
    try:
        if "token" not in token_cache:
            user = {"email": "reader@bench.example.com", "username": "bench_reader", "password": bench.PASSWORD}
            bench.request("POST", f"{url}/api/v1/auth/register", user)
            _, session = bench.request("POST", f"{url}/api/v1/auth/login",
                                       {"email": user["email"], "password": bench.PASSWORD})
            token_cache["token"] = session["access_token"]
        stop = threading.Event()
        scraping = None
        if setup != "off":
            scraping = threading.Thread(target=scraper, args=(f"{url}/metrics", stop), daemon=True)
            scraping.start()
        result = bench.wrk(f"{url}/api/v1/users/me", 64, token=token_cache["token"])
        stop.set()
        if scraping:
            scraping.join()
        return result
    finally:
        server.stop()


def reads(url: str, token: str, count: int) -> None:
    """`count` reads of /users/me over one keep-alive connection, one after another."""
    host, port = url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=60)
    for _ in range(count):
        connection.request("GET", "/api/v1/users/me", headers={"authorization": f"Bearer {token}"})
        response = connection.getresponse()
        response.read()
        if response.status != 200:
            raise RuntimeError(f"/users/me answered {response.status}")
    connection.close()


def instructions_run(setup: str, base_env: dict[str, str], data_dir: Path, receiver_port: int,
                     token_cache: dict, workdir: Path) -> float:
    """Instructions per read of `setup`, every thread of the server counted."""
    env = setup_env(base_env, setup, receiver_port)
    url = f"http://127.0.0.1:{bench.PORT}"
    out = workdir / f"callgrind-{setup.replace('+', '-')}"
    command = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}.%p", "--dump-instr=no",
               "--separate-threads=no", str(bench.FORGE), "serve"]
    server = bench.Server(f"callgrind-{setup}", command, env, f"{url}/health/ready", data_dir)
    server.start(timeout=300)
    try:
        if setup != "off":
            scrape = urllib.request.Request(f"{url}/metrics", headers={"authorization": f"Bearer {METRICS_TOKEN}"})
            with urllib.request.urlopen(scrape, timeout=60) as response:
                response.read()
        reads(url, token_cache["token"], 200)  # warm: pools, caches, first spans
        time.sleep(1)
        def window(work) -> tuple[int, float]:
            """Instructions of every thread while `work` runs, and how long it ran."""
            for old in glob.glob(f"{out}.*"):
                os.remove(old)
            subprocess.run(["callgrind_control", "-z", str(server.pid)], check=True, capture_output=True)
            started = time.monotonic()
            work()
            elapsed = time.monotonic() - started
            subprocess.run(["callgrind_control", "-d", str(server.pid)], check=True, capture_output=True)
            dumps = sorted(glob.glob(f"{out}.*"), key=os.path.getmtime)
            if not dumps:
                raise RuntimeError(f"callgrind wrote no dump for {setup}")
            for line in Path(dumps[-1]).read_text().splitlines():
                if line.startswith(("summary:", "totals:")):
                    return int(line.split()[1]), elapsed
            raise RuntimeError(f"no totals in {dumps[-1]}")

        def load() -> None:
            reads(url, token_cache["token"], REQUESTS)
            time.sleep(6)  # the span exporter sends its batch every 5 s: counted too

        busy, elapsed = window(load)
        # What the server does anyway in that time (job polling, the metrics' job count, the
        # relay), measured over as long a quiet window and taken off.
        idle, _ = window(lambda: time.sleep(elapsed))
        return (busy - idle) / REQUESTS
    finally:
        server.stop()


def write_instruction_docs(per_request: dict[str, float]) -> None:
    off = per_request["off"]
    lines = [
        IBEGIN,
        f"Run of {datetime.date.today().isoformat()}: instructions per `GET /api/v1/users/me`, every thread of the "
        f"server counted by callgrind over {REQUESTS} reads sent one after another (after 200 to warm up, and "
        "6 s for the span exporter's batch), less what the server does in as long a window without requests "
        "(job polling, the metrics' job count), SQLite, release build. Instruction counts do not depend on "
        "the machine's load; on a CPU-bound server, throughput falls by the same share as they rise.",
        "",
        "| set-up | instructions per request | vs off |",
        "|---|---|---|",
    ]
    for setup in SETUPS:
        change = (per_request[setup] - off) / off * 100
        lines.append(f"| {setup} | {per_request[setup]:,.0f} | {change:+.1f}% |")
    lines.append(IEND)
    doc = bench.DOC.read_text()
    block = "\n".join(lines)
    if IBEGIN in doc:
        start, end = doc.index(IBEGIN), doc.index(IEND) + len(IEND)
        doc = doc[:start] + block + doc[end:]
    else:
        doc = doc.replace(END, END + "\n\n" + block, 1)
    bench.DOC.write_text(doc)


def write_docs(medians: dict[str, dict], runs: dict[str, list[dict]]) -> None:
    off = medians["off"]["rps"]
    lines = [
        BEGIN,
        f"Run of {datetime.date.today().isoformat()}: `GET /api/v1/users/me`, 64 connections, {bench.SECONDS} s per "
        f"run, SQLite, release build, {ROUNDS} interleaved runs per set-up (medians), on a machine of "
        f"{os.cpu_count()} cores shared with other work (load average before: {medians['loadavg']}).",
        "",
        "| set-up | requests/s | vs off | p50 | p99 | errors |",
        "|---|---|---|---|---|---|",
    ]
    for setup in SETUPS:
        m = medians[setup]
        change = (m["rps"] - off) / off * 100
        lines.append(f"| {setup} | {m['rps']:.0f} | {change:+.1f}% | {m['p50_ms']:.2f} ms | {m['p99_ms']:.2f} ms "
                     f"| {m['errors']} |")
    lines += [
        "",
        "Every run: " + "; ".join(f"{s}: " + ", ".join(f"{r['rps']:.0f}" for r in runs[s]) for s in SETUPS) + ".",
        END,
    ]
    doc = bench.DOC.read_text()
    block = "\n".join(lines)
    if BEGIN in doc:
        start, end = doc.index(BEGIN), doc.index(END) + len(END)
        doc = doc[:start] + block + doc[end:]
    else:
        doc += "\n## What metrics and traces cost\n\n`scripts/bench-telemetry.sh` (`make bench-telemetry`).\n\n" + block + "\n"
    bench.DOC.write_text(doc)


def main() -> int:
    receiver_port = free_port()
    receiver = http.server.ThreadingHTTPServer(("127.0.0.1", receiver_port), Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    runs: dict[str, list[dict]] = {s: [] for s in SETUPS}
    loadavg = bench.loadavg()
    with tempfile.TemporaryDirectory(prefix="forge-telemetry-bench-") as tmp:
        data_dir = Path(tmp)
        base_env = bench.forge_env(data_dir, None)
        base_env = {k: v for k, v in base_env.items() if k not in ("RUST_LOG",)}
        token_cache: dict = {}
        # Creates and migrates the database, and the reader, outside the measurements.
        one_run("off", base_env, data_dir, receiver_port, token_cache)
        if os.environ.get("BENCH_INSTRUCTIONS", "1") != "0":
            per_request = {}
            for setup in SETUPS:
                per_request[setup] = instructions_run(setup, base_env, data_dir, receiver_port, token_cache, Path(tmp))
                bench.log(f"{setup}: {per_request[setup]:,.0f} instructions per request")
            if os.environ.get("BENCH_WRITE_DOCS", "1") != "0":
                write_instruction_docs(per_request)
        if os.environ.get("BENCH_THROUGHPUT", "1") == "0":
            return 0
        for round_ in range(ROUNDS):
            for setup in SETUPS:
                result = one_run(setup, base_env, data_dir, receiver_port, token_cache)
                runs[setup].append(result)
                bench.log(f"round {round_ + 1} {setup}: {result['rps']} req/s, p50 {result['p50_ms']} ms")
                time.sleep(1)
    medians: dict = {"loadavg": loadavg}
    for setup in SETUPS:
        medians[setup] = {
            key: statistics.median(r[key] for r in runs[setup]) for key in ("rps", "p50_ms", "p99_ms", "errors")
        }
    bench.log(f"receiver got {Receiver.batches} batches, {Receiver.received} bytes")
    for setup in SETUPS:
        bench.log(f"{setup}: {medians[setup]}")
    if os.environ.get("BENCH_WRITE_DOCS", "1") != "0":
        write_docs(medians, runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
