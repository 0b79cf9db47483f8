"""Web load: 20 concurrent users log in and browse the dashboards of a large workspace.

Bounded and localhost only. Builds a workspace of ``--customers`` customers (synthetic
orders written straight into DuckDB), runs the analyses once (dashboards read the cached
results), starts ``uvicorn`` in a subprocess on 127.0.0.1 and lets ``--users`` threads
log in and browse for ``--seconds``. Writes ``benchmarks/results/web_load.json``:
p50/p95/p99 latency, errors, requests per second, the server's peak RSS, and as the
floor (``peer``) the latency of a static file served by the same server under the same
load. Target: p95 < 300 ms with zero errors.

    python benchmarks/web_load.py            # 100,000 customers, 60 s
    python benchmarks/web_load.py --quick    # 10,000 customers, 10 s
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path

import httpx
import numpy as np

from levelfield import open_workspace
from levelfield.web import Settings, create_app

RESULTS = Path(__file__).resolve().parent / "results" / "web_load.json"
PASSWORD = "load test password"
PAGES = (
    "",
    "/analyses/customers",
    "/analyses/landscape",
    "/analyses/exposure",
    "/analyses/pricing",
    "/analyses/scenarios",
)


def build_workspace(path: Path, n_customers: int, seed: int = 7) -> None:
    """Orders of ``n_customers`` customers over two years, lines and products, in SQL."""
    with open_workspace(path) as ws:
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


def prepare(data_dir: Path, n_customers: int, n_users: int) -> tuple[str, list[str]]:
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
    build_workspace(ws_path, n_customers)
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
    return org.org_id, emails


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def peak_rss_mb(pid: int) -> float:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return float("nan")
    m = re.search(r"VmHWM:\s+(\d+) kB", text)
    return int(m.group(1)) / 1024 if m else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--quick", action="store_true", help="10,000 customers for 10 s")
    ap.add_argument("--customers", type=int, default=None)
    ap.add_argument("--users", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=None)
    args = ap.parse_args()
    n_customers = args.customers or (10_000 if args.quick else 100_000)
    seconds = args.seconds or (10.0 if args.quick else 60.0)
    n_users = args.users

    with tempfile.TemporaryDirectory(prefix="lf-web-load-") as tmp:
        data_dir = Path(tmp) / "data"
        t0 = time.perf_counter()
        org_id, emails = prepare(data_dir, n_customers, n_users)
        print(
            f"prepared {n_customers:,} customers and {n_users} users in {time.perf_counter() - t0:.1f} s"
        )
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        code = (
            "import uvicorn; from levelfield.web import create_app;"
            f"uvicorn.run(create_app({str(data_dir)!r}), host='127.0.0.1', port={port}, "
            "log_level='warning')"
        )
        server = subprocess.Popen([sys.executable, "-c", code])
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("the server did not start")
                time.sleep(0.2)

            lock = threading.Lock()
            lat: list[float] = []
            login_lat: list[float] = []
            static_lat: list[float] = []
            errors: list[str] = []

            def user(i: int) -> None:
                with httpx.Client(base_url=base, timeout=30, follow_redirects=False) as c:
                    t = time.perf_counter()
                    page = c.get("/login")
                    m = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
                    r = c.post(
                        "/login",
                        data={
                            "email": emails[i],
                            "password": PASSWORD,
                            "csrf_token": m.group(1) if m else "",
                        },
                    )
                    with lock:
                        login_lat.append(time.perf_counter() - t)
                        if r.status_code != 303:
                            errors.append(f"login {r.status_code}")
                            return
                    k = i
                    stop_at = time.monotonic() + seconds  # each user browses for `seconds`
                    while time.monotonic() < stop_at:
                        path = f"/orgs/{org_id}{PAGES[k % len(PAGES)]}"
                        k += 1
                        t = time.perf_counter()
                        try:
                            r = c.get(path)
                            ok = r.status_code == 200 and len(r.content) > 0
                        except httpx.HTTPError as exc:
                            ok, r = False, None
                            with lock:
                                errors.append(repr(exc))
                        dt_ = time.perf_counter() - t
                        with lock:
                            lat.append(dt_)
                            if not ok and r is not None:
                                errors.append(f"{path} {r.status_code}")
                        if k % 10 == 0:
                            t = time.perf_counter()
                            c.get("/static/report.css")
                            with lock:
                                static_lat.append(time.perf_counter() - t)

            threads = [threading.Thread(target=user, args=(i,)) for i in range(n_users)]
            t_start = time.perf_counter()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            elapsed = time.perf_counter() - t_start
            rss = peak_rss_mb(server.pid)
        finally:
            server.terminate()
            server.wait(timeout=30)

    a = np.array(lat) * 1000
    result = {
        "benchmark": "web_load",
        "n": n_customers,
        "users": n_users,
        "seconds": round(elapsed, 1),
        "requests": int(a.size),
        "errors": len(errors),
        "error_samples": errors[:5],
        "rps": round(a.size / elapsed, 1),
        "p50_ms": round(float(np.percentile(a, 50)), 1) if a.size else None,
        "p95_ms": round(float(np.percentile(a, 95)), 1) if a.size else None,
        "p99_ms": round(float(np.percentile(a, 99)), 1) if a.size else None,
        "login_p50_ms": round(float(np.percentile(np.array(login_lat) * 1000, 50)), 1),
        "login_p95_ms": round(float(np.percentile(np.array(login_lat) * 1000, 95)), 1),
        "ours_s": round(float(np.percentile(a, 50)) / 1000, 4) if a.size else None,
        "peer": "static file from the same server under the same load (floor)",
        "peer_s": round(float(np.median(static_lat)), 4) if static_lat else None,
        "peak_rss_mb": round(rss, 1),
        "target": "p95 < 300 ms, zero errors",
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
