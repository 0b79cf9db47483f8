"""Web load: 20 concurrent users log in and browse the dashboards of a large workspace.

Bounded and localhost only. Builds a workspace of ``--customers`` customers (synthetic
orders written straight into DuckDB) and runs the analyses once (dashboards read the
cached results). Then three processes: this one only waits; the server runs as users run
it (``levelfield.web.serve``, Uvicorn, in its own process); the load generator runs in
another process (``--client``): ``--users`` asyncio tasks with ``httpx.AsyncClient``, each
with its own cookies, log in at once (a burst: argon2 at the default cost) and then browse
the overview and the five dashboards without pause for ``--seconds``. Every page has a
30 s timeout (the login POST 120 s, as it may queue for a hashing slot) and the client
stops after ``seconds + 180`` s whatever happens. Every 10th page a user also fetches
``/static/report.css``: the floor (``peer``), the latency of the cheapest response of the
same server under the same load.

Writes ``benchmarks/results/web_load.json``: ``p50_ms``/``p95_ms`` of dashboard browsing
(the target: p95 < 300 ms, zero errors), logins separately (``login_*``: the POST that
verifies the password; slow by design under a burst on few cores), ``overall_*`` over
every request of the run, errors, requests per second, the server's CPU seconds and peak
RSS, and the load average of the machine.

    python benchmarks/web_load.py            # 100,000 customers, 60 s
    python benchmarks/web_load.py --quick    # 10,000 customers, 10 s
    python benchmarks/web_load.py --data-dir DIR   # keep/reuse the prepared data in DIR
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results" / "web_load.json"
PASSWORD = "load test password"
HOST = "127.0.0.1"
PAGES = (
    "",
    "/analyses/customers",
    "/analyses/landscape",
    "/analyses/exposure",
    "/analyses/pricing",
    "/analyses/scenarios",
)
STATIC = "/static/report.css"
TIMEOUT_S = 30.0  # any page
LOGIN_TIMEOUT_S = 120.0  # the login POST: argon2 under a burst queues on few cores


# -- preparation (this process, before the server starts) ------------------------------
def build_workspace(
    path: Path, n_customers: int, seed: int = 7, key_dir: Path | None = None
) -> None:
    """Orders of ``n_customers`` customers over two years, lines and products, in SQL."""
    from levelfield import open_workspace

    with open_workspace(path, key_dir=key_dir) as ws:
        con = ws.con
        con.execute(
            "INSERT INTO imports VALUES (1, 'orders', 'synthetic', 'load', 'synthetic', 0, 0, 0, "
            "now()::TIMESTAMP, now()::TIMESTAMP, 'ok', NULL)"
        )
        con.execute(f"SELECT setseed({(seed % 100) / 100})").fetchall()
        con.execute(
            f"""INSERT INTO orders
            SELECT 'o' || i, lf_pseudonym('c' || c), ts, ch, NULL, 'USD',
                   round(20 + 80 * random(), 2), 0, 0, 0, NULL, 0, 'paid', NULL, 1
            FROM (
              SELECT i, c, TIMESTAMP '2023-01-01' + to_seconds(CAST(random() * 63072000 AS BIGINT)) AS ts,
                     CASE WHEN random() < 0.6 THEN 'shopify' WHEN random() < 0.7 THEN 'etsy'
                          ELSE 'amazon' END AS ch
              FROM (SELECT i, CAST(floor(pow(random(), 2) * {n_customers}) AS BIGINT) AS c
                    FROM range({n_customers * 3}) t(i))
            )"""
        )
        con.execute(
            "INSERT INTO order_lines SELECT order_id, 1, 'SKU' || (hash(order_id) % 20), 'Item', "
            "'cat', 1, gross, gross, 0, 1 FROM orders"
        )
        con.execute(
            "INSERT INTO products SELECT 'SKU' || i, 'Item ' || i, 'cat', 12 + i, 40, 'USD', NULL, 1 "
            "FROM range(20) t(i)"
        )


def prepare(data_dir: Path, n_customers: int, n_users: int) -> dict[str, Any]:
    """Accounts (default argon2 cost), one organization with the workspace, analysed."""
    from levelfield.web import Settings, create_app

    app = create_app(data_dir, settings=Settings())
    st = app.state.lf
    owner, org = st.sign_up("user0@load.example", PASSWORD, "Load test business")
    emails = [owner.email]
    for i in range(1, n_users):
        u, _own = st.sign_up(f"user{i}@load.example", PASSWORD, f"Own org {i}")
        st.store.add_member(u.user_id, org.org_id)
        emails.append(u.email)
    ws_path = data_dir / org.workspace
    st.tenants.close()
    ws_path.unlink()
    build_workspace(ws_path, n_customers, key_dir=st.tenants.key_dir)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        st.tenants.start_run(org, owner.user_id)
        st.tenants.wait(timeout=1800)
    job = st.store.latest_job(org.org_id)
    print(
        f"analyses: {job.status} in {time.perf_counter() - t0:.1f} s ({job.step}) {job.error or ''}"
    )
    st.tenants.close()
    return {"org_id": org.org_id, "emails": emails, "n_customers": n_customers}


# -- the load generator (its own process) ------------------------------------------------
async def run_client(base: str, org_id: str, emails: list[str], seconds: float) -> dict[str, Any]:
    """Log ``len(emails)`` users in at once, then browse for ``seconds`` each."""
    import httpx

    browse: list[float] = []
    login_page: list[float] = []
    login: list[float] = []
    static: list[float] = []
    errors: list[str] = []
    limits = httpx.Limits(max_connections=4, max_keepalive_connections=4)

    async def timed(c: httpx.AsyncClient, method: str, url: str, **kw: Any) -> tuple[Any, float]:
        t = time.perf_counter()
        try:
            r = await c.request(method, url, **kw)
            _ = r.content
        except httpx.HTTPError as exc:
            errors.append(f"{method} {url}: {exc!r}")
            return None, time.perf_counter() - t
        return r, time.perf_counter() - t

    async def user(i: int) -> None:
        async with httpx.AsyncClient(
            base_url=base, timeout=TIMEOUT_S, follow_redirects=False, limits=limits
        ) as c:
            page, dt_ = await timed(c, "GET", "/login")
            login_page.append(dt_)
            if page is None:
                return
            if page.status_code != 200:
                errors.append(f"GET /login {page.status_code}")
                return
            m = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
            form = {"email": emails[i], "password": PASSWORD, "csrf_token": m.group(1) if m else ""}
            # A login waits its turn for a hashing slot: give it as long as a browser would.
            r, dt_ = await timed(c, "POST", "/login", data=form, timeout=LOGIN_TIMEOUT_S)
            login.append(dt_)
            if r is None:
                return
            if r.status_code != 303:
                errors.append(f"POST /login {r.status_code}")
                return
            k = i
            stop_at = time.monotonic() + seconds
            while time.monotonic() < stop_at:
                path = f"/orgs/{org_id}{PAGES[k % len(PAGES)]}"
                k += 1
                r, dt_ = await timed(c, "GET", path)
                browse.append(dt_)
                if r is not None and (r.status_code != 200 or not r.content):
                    errors.append(f"GET {path} {r.status_code}")
                if k % 10 == 0:
                    r, dt_ = await timed(c, "GET", STATIC)
                    static.append(dt_)
                    if r is not None and r.status_code != 200:
                        errors.append(f"GET {STATIC} {r.status_code}")

    t0 = time.perf_counter()
    tasks = [asyncio.create_task(user(i)) for i in range(len(emails))]
    done, pending = await asyncio.wait(tasks, timeout=seconds + 180)
    for t in pending:
        t.cancel()
        errors.append("a simulated user did not finish in time")
    for t in done:
        if t.exception() is not None:
            errors.append(repr(t.exception()))
    return {
        "elapsed_s": time.perf_counter() - t0,
        "browse_s": browse,
        "login_page_s": login_page,
        "login_s": login,
        "static_s": static,
        "errors": errors,
    }


def client_main(args: argparse.Namespace) -> None:
    spec = json.loads(Path(args.client).read_text())
    if not spec["base"].startswith(f"http://{HOST}:"):
        raise SystemExit("the load generator only talks to 127.0.0.1")
    out = asyncio.run(run_client(spec["base"], spec["org_id"], spec["emails"], spec["seconds"]))
    Path(spec["out"]).write_text(json.dumps(out))


# -- orchestration -------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def proc_status(pid: int) -> tuple[float, float]:
    """Peak RSS (MB) and CPU seconds (user + system) of process ``pid``."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan"), float("nan")
    m = re.search(r"VmHWM:\s+(\d+) kB", status)
    tick = os.sysconf("SC_CLK_TCK")
    return (int(m.group(1)) / 1024 if m else float("nan"), (int(stat[11]) + int(stat[12])) / tick)


def wait_healthy(base: str, server: subprocess.Popen[bytes], timeout: float = 60) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline or server.poll() is not None:
            raise RuntimeError("the server did not start")
        time.sleep(0.2)


def pct(xs: list[float], q: float) -> float | None:
    import numpy as np

    return round(float(np.percentile(np.array(xs) * 1000, q)), 1) if xs else None


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--quick", action="store_true", help="10,000 customers for 10 s")
    ap.add_argument("--customers", type=int, default=None)
    ap.add_argument("--users", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=None)
    ap.add_argument(
        "--data-dir", type=Path, default=None, help="prepare here, or reuse what is here"
    )
    ap.add_argument("--client", default=None, help=argparse.SUPPRESS)  # the load generator
    args = ap.parse_args()
    if args.client:
        client_main(args)
        return
    n_customers = args.customers or (10_000 if args.quick else 100_000)
    seconds = args.seconds or (10.0 if args.quick else 60.0)

    with tempfile.TemporaryDirectory(prefix="lf-web-load-") as tmp:
        data_dir = args.data_dir or Path(tmp) / "data"
        meta_path = data_dir / "web_load_meta.json"
        meta = json.loads(meta_path.read_text()) if meta_path.exists() else None
        if meta is None or meta["n_customers"] != n_customers or len(meta["emails"]) < args.users:
            t0 = time.perf_counter()
            meta = prepare(data_dir, n_customers, args.users)
            meta_path.write_text(json.dumps(meta))
            print(
                f"prepared {n_customers:,} customers and {args.users} users "
                f"in {time.perf_counter() - t0:.1f} s"
            )
        port = free_port()
        base = f"http://{HOST}:{port}"
        code = (
            "from levelfield.web import serve; "
            f"serve(host={HOST!r}, port={port}, data_dir={str(data_dir)!r})"
        )
        server = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.DEVNULL)
        try:
            wait_healthy(base, server)
            _rss0, cpu0 = proc_status(server.pid)
            load_before = os.getloadavg()
            spec = {
                "base": base,
                "org_id": meta["org_id"],
                "emails": meta["emails"][: args.users],
                "seconds": seconds,
                "out": str(Path(tmp) / "client.json"),
            }
            spec_path = Path(tmp) / "client_spec.json"
            spec_path.write_text(json.dumps(spec))
            client = subprocess.run(
                [sys.executable, __file__, "--client", str(spec_path)],
                timeout=seconds + 240,
                check=False,
            )
            if client.returncode != 0:
                raise RuntimeError(f"the load generator failed (exit {client.returncode})")
            rss, cpu1 = proc_status(server.pid)
            out = json.loads(Path(spec["out"]).read_text())
        finally:
            server.terminate()
            server.wait(timeout=30)

    browse, login, static = out["browse_s"], out["login_s"], out["static_s"]
    every = browse + login + out["login_page_s"] + static
    n_requests = len(every)
    result: dict[str, Any] = {
        "benchmark": "web_load",
        "n": n_customers,
        "users": args.users,
        "seconds": round(out["elapsed_s"], 1),
        "requests": n_requests,
        "errors": len(out["errors"]),
        "error_samples": out["errors"][:5],
        "rps": round(n_requests / out["elapsed_s"], 1),
        "p50_ms": pct(browse, 50),
        "p95_ms": pct(browse, 95),
        "p99_ms": pct(browse, 99),
        "browse_requests": len(browse),
        "login_p50_ms": pct(login, 50),
        "login_p95_ms": pct(login, 95),
        "login_max_ms": pct(login, 100),
        "login_page_p95_ms": pct(out["login_page_s"], 95),
        "overall_p50_ms": pct(every, 50),
        "overall_p95_ms": pct(every, 95),
        "ours_s": round(pct(browse, 50) / 1000, 4) if browse else None,
        "peer": "static file (/static/report.css) from the same server under the same load (floor)",
        "peer_s": round(pct(static, 50) / 1000, 4) if static else None,
        "peer_p95_ms": pct(static, 95),
        "server_cpu_s": round(cpu1 - cpu0, 1),
        "server_cpu_ms_per_request": round(1000 * (cpu1 - cpu0) / max(n_requests, 1), 2),
        "peak_rss_mb": round(rss, 1),
        "load_avg": [round(x, 2) for x in load_before[:2]],
        "cpus": os.cpu_count(),
        "target": "p95 < 300 ms (dashboard browsing), zero errors",
        "quick": bool(args.quick),
    }
    if result["ours_s"] and result["peer_s"]:
        result["ratio"] = round(result["peer_s"] / result["ours_s"], 3)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    if os.environ.get("LEVELFIELD_BENCH_STRICT") and (
        result["errors"] or (result["p95_ms"] or 1e9) >= 300
    ):
        sys.exit(1)


if __name__ == "__main__":
    main()
