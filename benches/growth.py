#!/usr/bin/env python3
"""Whether the reference server's cost stays flat as its data grows, measured with wrk
against a release `apierr serve` on 127.0.0.1, on SQLite and PostgreSQL.

    benches/growth.py [sqlite|postgres ...]

1. Listing: one database holds a partner with 1,000 accounts (`viewer`) and one with
   1,000,000 (`acme`). For each, wrk asks for page one (`GET /accounts?per_page=20`) and
   for a cursor page nine tenths in (`starting_after=`), 16 connections for 10 s. The
   ratio is small / large requests a second: at most 2 is the target.
2. Purge: p99 latency of page one of the small partner with nothing else running, then
   while `apierr purge --kind tokens` deletes 1,000,000 expired tokens: at most 2x is the
   target.

Every target is 127.0.0.1; every load run is bounded in time. Needs wrk, psql, sqlite3
(Debian packages) and PostgreSQL at APIERR_TEST_POSTGRES_URL (default
postgres://postgres@127.0.0.1:5432/test).
"""

import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PG = os.environ.get("APIERR_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test")
SMALL, LARGE = 1_000, 1_000_000
DURATION = os.environ.get("APIERR_GROWTH_DURATION", "10s")


def need(tool: str) -> None:
    if shutil.which(tool) is None:
        sys.exit(f"growth: {tool} is missing (apt-get install {tool})")


def binary() -> str:
    subprocess.run(["cargo", "build", "--release", "-p", "apierr-cli", "--quiet"],
                   check=True, cwd=ROOT)
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    return os.path.join(target, "release", "apierr")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sql(backend: str, url: str, statement: str) -> None:
    if backend == "sqlite":
        subprocess.run(["sqlite3", url.removeprefix("sqlite://"), statement], check=True)
    else:
        subprocess.run(["psql", "-q", "-v", "ON_ERROR_STOP=1", url, "-c", statement],
                       check=True, stdout=subprocess.DEVNULL)


def rows(backend: str, partner: str, n: int, offset: int) -> str:
    """An INSERT of n accounts of `partner`, created one microsecond apart."""
    if backend == "sqlite":
        return (f"WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < {n}) "
                f"INSERT INTO accounts (id, partner_id, email, first_name, last_name, created_at) "
                f"SELECT printf('%032x', i + {offset}), '{partner}', 'g' || (i + {offset}) || "
                f"'@example.com', 'G', 'R', i FROM c")
    return (f"INSERT INTO accounts (id, partner_id, email, first_name, last_name, created_at) "
            f"SELECT lpad(to_hex(i + {offset}), 32, '0'), '{partner}', 'g' || (i + {offset}) || "
            f"'@example.com', 'G', 'R', i FROM generate_series(1, {n}) AS i")


def tokens(backend: str, n: int) -> str:
    """An INSERT of n tokens of acme that expired a day ago."""
    if backend == "sqlite":
        return (f"WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < {n}) "
                f"INSERT INTO tokens SELECT printf('old%061x', i), 'acme', "
                f"CAST(strftime('%s', 'now') AS INTEGER) - 86400, 0, 1 FROM c")
    return (f"INSERT INTO tokens SELECT 'old' || lpad(to_hex(i), 61, '0'), 'acme', "
            f"extract(epoch from now())::bigint - 86400, 0, 1 FROM generate_series(1, {n}) AS i")


def wrk(base: str, path: str, key: str) -> tuple[float, float]:
    """Requests a second and p99 latency (ms) of 16 connections for DURATION."""
    out = subprocess.run(
        ["wrk", "-t2", "-c16", f"-d{DURATION}", "--latency", "-H", f"x-api-key: {key}",
         f"{base}{path}"],
        check=True, capture_output=True, text=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p99, unit = re.search(r"99%\s+([\d.]+)(us|ms|s)", out).groups()
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
    if "Non-2xx" in out:
        sys.exit(f"growth: {path} answered errors:\n{out}")
    return rps, float(p99) * scale


def run(backend: str, apierr: str) -> None:
    work = tempfile.mkdtemp(prefix="apierr-growth-")
    key = os.path.join(work, "secret.key")
    subprocess.run([apierr, "keys", "generate", key], check=True, stdout=subprocess.DEVNULL)
    if backend == "sqlite":
        url = f"sqlite://{work}/growth.db"
    else:
        name = f"apierr_growth_{os.getpid()}"
        sql(backend, PG, f"CREATE DATABASE {name}")
        url = PG.rsplit("/", 1)[0] + "/" + name
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [apierr, "serve", "--demo", "--database-url", url, "--secret-key-file", key,
         "--listen", f"127.0.0.1:{port}", "--no-webhook-dispatcher",
         "--rate-limit", "50000000/60s", "--retain-expired-tokens", "3650days"],
        stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, "serve.log"), "w"),
        env={**os.environ, "RUST_LOG": "warn"})
    try:
        for _ in range(200):
            if server.poll() is not None:
                sys.exit(f"growth: apierr serve exited ({server.returncode})")
            try:
                urllib.request.urlopen(f"{base}/openapi.json", timeout=1)
                break
            except OSError:
                time.sleep(0.05)
        started = time.time()
        sql(backend, url, rows(backend, "viewer", SMALL, 0))
        sql(backend, url, rows(backend, "acme", LARGE, SMALL))
        sql(backend, url, tokens(backend, LARGE))
        if backend == "postgres":
            sql(backend, url, "ANALYZE")
        print(f"{backend}: seeded {SMALL} + {LARGE} accounts and {LARGE} tokens "
              f"in {time.time() - started:.0f} s")
        deep_small = f"{int(SMALL * 0.9):032x}"
        deep_large = f"{SMALL + int(LARGE * 0.9):032x}"
        cases = [
            ("page one", "/accounts?per_page=20", "/accounts?per_page=20"),
            ("cursor 9/10 in", f"/accounts?per_page=20&starting_after={deep_small}",
             f"/accounts?per_page=20&starting_after={deep_large}"),
        ]
        for label, small_path, large_path in cases:
            # A first request each, so that a full count is not in the measure.
            for path, who in ((small_path, "viewer-key"), (large_path, "acme-key")):
                req = urllib.request.Request(f"{base}{path}", headers={"x-api-key": who})
                urllib.request.urlopen(req, timeout=60).read()
            small, _ = wrk(base, small_path, "viewer-key")
            large, _ = wrk(base, large_path, "acme-key")
            print(f"{backend}: {label}: {SMALL:,} rows {small:,.0f} req/s, "
                  f"{LARGE:,} rows {large:,.0f} req/s: ratio {small / large:.2f} (target <= 2)")
        _, quiet = wrk(base, "/accounts?per_page=20", "viewer-key")
        purge = subprocess.Popen(
            [apierr, "purge", "--database-url", url, "--kind", "tokens"],
            stdout=subprocess.PIPE, text=True)
        purging_started = time.time()
        _, busy = wrk(base, "/accounts?per_page=20", "viewer-key")
        overlap = time.time() - purging_started
        said = purge.communicate(timeout=600)[0].strip()
        took = time.time() - purging_started
        print(f"{backend}: p99 {quiet:.2f} ms quiet, {busy:.2f} ms during the purge: "
              f"ratio {busy / quiet:.2f} (target <= 2); the purge took {took:.0f} s "
              f"({said}), wrk ran {overlap:.0f} s of it")
    finally:
        if server.poll() is not None:
            print(open(os.path.join(work, "serve.log")).read(), file=sys.stderr)
        server.terminate()
        server.wait(timeout=60)
        if backend == "postgres":
            sql(backend, PG, f"DROP DATABASE IF EXISTS apierr_growth_{os.getpid()}")
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    for tool in ("wrk", "psql", "sqlite3"):
        need(tool)
    backends = sys.argv[1:] or ["sqlite", "postgres"]
    apierr = binary()
    for backend in backends:
        run(backend, apierr)


if __name__ == "__main__":
    main()
