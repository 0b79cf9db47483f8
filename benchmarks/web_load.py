"""Web load: 20 users log in and browse while another tenant attacks; first views uncached.

Bounded and localhost only. Builds a workspace of ``--customers`` customers (synthetic
orders written straight into DuckDB) and runs the analyses once. The server runs as
users run it (``levelfield.web.serve``, Uvicorn, default settings: argon2id at OWASP's
minimum, one hashing thread per core) in its own process; load generators run in other
processes (``--client``), with ``httpx.AsyncClient``, each user with its own cookies.

1. Quiet: ``--users`` users log in at once (a burst), then browse the overview and the
   five dashboards without pause for ``--seconds``; every 10th page a user also fetches
   ``/static/report.css``, the floor (``peer``: the cheapest response of the same server
   under the same load).
   The same users then browse as people do, pausing 0.5 to 1.5 s between pages: the
   latency target's case (``paced_p95_ms``); without pause, p95 measures saturation.
2. Attacked: the same again while another tenant, through the API, uploads generated
   hostile files (a 116,000-column CSV, a sparse XLSX with cells A1 and XFD1048576, a
   zip-bomb workbook, a headerless file of e-mails and phone numbers, random bytes) and
   bursts of 30 uploads at once. ``hostile_p95_ratio`` = browsing p95 attacked / quiet.
3. Uncached: one user; each round marks the stored results as new (as a finished run
   does) and drops the cached five numbers, then times the first view of each page.

Writes ``benchmarks/results/web_load.json``, each figure with a label: ``p95_ms`` (cached
browsing, target < 100 ms), ``login_p95_ms`` (target < 1 s), ``first_view_p95_ms``
(uncached, target < 2 s at 100k customers), ``hostile_p95_ratio`` (target <= 2), errors,
the server's CPU seconds, peak RSS, and the load average before and after.
``LEVELFIELD_BENCH_STRICT=1`` exits 1 when a target is missed.

    python benchmarks/web_load.py            # 100,000 customers, 60 s per phase
    python benchmarks/web_load.py --quick    # 10,000 customers, 10 s per phase
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
THINK_S = 1.0  # the paced phase: a user's mean pause between pages (a fast clicker)
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
    # Another tenant, who will upload hostile files through the API.
    hostile, hostile_org = st.sign_up("hostile@load.example", PASSWORD, "Hostile tenant")
    _tid, token = st.store.create_token(hostile.user_id, "load test")
    st.tenants.close()
    return {
        "org_id": org.org_id,
        "emails": emails,
        "n_customers": n_customers,
        "hostile_org_id": hostile_org.org_id,
        "hostile_token": token,
    }


# -- the load generator (its own process) ------------------------------------------------
async def run_client(
    base: str, org_id: str, emails: list[str], seconds: float, think_s: float = 0.0
) -> dict[str, Any]:
    """Log ``len(emails)`` users in at once, then browse for ``seconds`` each.

    ``think_s``: each user's mean pause between pages (uniform on 0.5 to 1.5 times it,
    seeded per user); 0 browses without pause, which measures saturation, not latency.
    """
    import random

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
            rng = random.Random(i)
            stop_at = time.monotonic() + seconds
            while time.monotonic() < stop_at:
                if think_s:
                    await asyncio.sleep(think_s * rng.uniform(0.5, 1.5))
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


def hostile_files() -> list[tuple[str, bytes]]:
    """Generated hostile uploads (issue 16): nothing is stored in the repository."""
    import io
    import zipfile

    import openpyxl

    wide = ",".join(f"c{i}" for i in range(116_000)) + "\n" + ",".join("1" * 116_000) + "\n"
    wb = openpyxl.Workbook()
    wb.active["A1"] = "order_id"
    wb.active["XFD1048576"] = 1  # a 16-billion-cell grid for a naive reader
    sparse = io.BytesIO()
    wb.save(sparse)
    bomb = io.BytesIO()  # 1 GB of zeros in a tiny workbook-looking ZIP
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("xl/workbook.xml", "<workbook/>")
        zf.writestr("xl/worksheets/sheet1.xml", b"\0" * (200 << 20))
    headerless = "".join(
        f"{1000 + i},person{i}@example.com,+44 7700 9{i:05d},2024-03-01,12.50\n"
        for i in range(2000)
    )
    return [
        ("wide.csv", wide.encode()),
        ("sparse.xlsx", sparse.getvalue()),
        ("bomb.xlsx", bomb.getvalue()),
        ("headerless.csv", headerless.encode()),
        ("junk.csv", os.urandom(1 << 20)),
    ]


async def run_hostile(base: str, org_id: str, token: str, seconds: float) -> dict[str, Any]:
    """Upload hostile files, and bursts of 30 uploads at once, into ``org_id`` for ``seconds``."""
    import httpx

    files = hostile_files()
    codes: dict[str, int] = {}
    stop_at = time.monotonic() + seconds
    headers = {"Authorization": f"Bearer {token}"}
    url = f"/api/v1/orgs/{org_id}/imports"
    async with httpx.AsyncClient(base_url=base, timeout=120, headers=headers) as c:

        async def upload(name: str, body: bytes) -> None:
            try:
                r = await c.post(url, data={"kind": "orders"}, files={"file": (name, body)})
                key = str(r.status_code)
            except httpx.HTTPError as exc:
                key = type(exc).__name__
            codes[key] = codes.get(key, 0) + 1

        k = 0
        while time.monotonic() < stop_at:
            name, body = files[k % len(files)]
            k += 1
            if k % 6 == 0:  # a burst: one tenant trying to take every import thread
                await asyncio.gather(*(upload(f"burst{i}.csv", files[3][1]) for i in range(30)))
            else:
                await upload(name, body)
    return {"uploads": sum(codes.values()), "status_codes": codes}


async def run_uncached(base: str, org_id: str, email: str, db: str, rounds: int) -> dict[str, Any]:
    """First views after new results: the server's parsed results and pages are stale.

    Each round marks the organization's stored results as new (as a finished run
    does) and drops the cached five numbers (as an import does before they are
    recomputed), then times the first view of the overview and of every dashboard.
    """
    import sqlite3

    import httpx

    times: list[float] = []
    cached: list[float] = []
    async with httpx.AsyncClient(base_url=base, timeout=TIMEOUT_S) as c:
        page = await c.get("/login")
        m = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        form = {"email": email, "password": PASSWORD, "csrf_token": m.group(1) if m else ""}
        r = await c.post("/login", data=form, timeout=LOGIN_TIMEOUT_S)
        if r.status_code != 303:
            return {"first_view_s": [], "errors": [f"login {r.status_code}"]}
        errors: list[str] = []
        for _ in range(rounds):
            con = sqlite3.connect(db, timeout=30)
            con.execute(
                "UPDATE org_cache SET report_at = report_at + 0.001, numbers_json = NULL "
                "WHERE org_id = ?",
                (org_id,),
            )
            con.commit()
            con.close()
            for path in PAGES:
                t = time.perf_counter()
                r = await c.get(f"/orgs/{org_id}{path}")
                times.append(time.perf_counter() - t)
                if r.status_code != 200:
                    errors.append(f"GET {path} {r.status_code}")
            for path in PAGES:  # the same pages again, now cached: one user's service time
                t = time.perf_counter()
                r = await c.get(f"/orgs/{org_id}{path}")
                cached.append(time.perf_counter() - t)
                if r.status_code != 200:
                    errors.append(f"GET {path} {r.status_code}")
    return {"first_view_s": times, "cached_alone_s": cached, "errors": errors}


def client_main(args: argparse.Namespace) -> None:
    spec = json.loads(Path(args.client).read_text())
    if not spec["base"].startswith(f"http://{HOST}:"):
        raise SystemExit("the load generator only talks to 127.0.0.1")
    if spec["role"] == "hostile":
        out = asyncio.run(run_hostile(spec["base"], spec["org_id"], spec["token"], spec["seconds"]))
    elif spec["role"] == "uncached":
        out = asyncio.run(
            run_uncached(spec["base"], spec["org_id"], spec["email"], spec["db"], spec["rounds"])
        )
    else:
        out = asyncio.run(
            run_client(
                spec["base"], spec["org_id"], spec["emails"], spec["seconds"], spec.get("think", 0)
            )
        )
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


def wait_healthy(base: str, server: subprocess.Popen[bytes], timeout: float = 300) -> None:
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
        if (
            meta is None
            or meta["n_customers"] != n_customers
            or len(meta["emails"]) < args.users
            or "hostile_token" not in meta
        ):
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
            emails = meta["emails"][: args.users]
            browse = {"role": "browse", "org_id": meta["org_id"], "emails": emails}
            # Phase 1: 20 users log in at once, then browse (cached dashboards).
            quiet = run_role(base, Path(tmp), "quiet", {**browse, "seconds": seconds})
            # Phase 1b: the same users browsing as people do, about a second between pages.
            paced = run_role(
                base, Path(tmp), "paced", {**browse, "seconds": seconds, "think": THINK_S}
            )
            # Phase 2: the same, while another tenant uploads hostile files.
            hostile = {
                "role": "hostile",
                "org_id": meta["hostile_org_id"],
                "token": meta["hostile_token"],
                "seconds": seconds + 15,
            }
            attacked, attack = run_roles(
                base, Path(tmp), {"attacked": {**browse, "seconds": seconds}, "attack": hostile}
            )
            load_after = os.getloadavg()
            # Phase 3: first views after new results (uncached), one user alone.
            uncached = run_role(
                base,
                Path(tmp),
                "uncached",
                {
                    "role": "uncached",
                    "org_id": meta["org_id"],
                    "email": emails[0],
                    "db": str(data_dir / "app.sqlite3"),
                    "rounds": 3 if args.quick else 5,
                },
            )
            alive = server.poll() is None
            rss, cpu1 = proc_status(server.pid)
        finally:
            server.terminate()
            server.wait(timeout=30)

    result = summarize(args, n_customers, quiet, attacked, attack, uncached)
    result.update(paced_figures(paced))
    result["errors"] += result["paced_errors"]
    result.update(
        {
            "server_alive_after_attack": alive,
            "server_cpu_s": round(cpu1 - cpu0, 1),
            "peak_rss_mb": round(rss, 1),
            "load_avg": [round(x, 2) for x in load_before[:2]],
            "load_avg_after": [round(x, 2) for x in load_after[:2]],
            "cpus": os.cpu_count(),
        }
    )
    result["table"] = web_rows(result, n_customers, load_before[0], load_after[0])
    if not args.quick:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    failed = (
        result["errors"]
        or (result["paced_p95_ms"] or 1e9) >= 100
        or (result["login_p95_ms"] or 1e9) >= 1000
        or (result["first_view_p95_ms"] or 1e9) >= 2000
        or (result["hostile_p95_ratio"] or 1e9) > 2
        or not alive
    )
    if os.environ.get("LEVELFIELD_BENCH_STRICT") and failed:
        sys.exit(1)


def run_roles(base: str, tmp: Path, specs: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Run load generators (one process each) at once; their outputs in ``specs`` order."""
    procs = []
    for name, spec in specs.items():
        spec = {**spec, "base": base, "out": str(tmp / f"{name}.json")}
        spec_path = tmp / f"{name}_spec.json"
        spec_path.write_text(json.dumps(spec))
        procs.append(subprocess.Popen([sys.executable, __file__, "--client", str(spec_path)]))
    limit = time.monotonic() + max(s.get("seconds", 60) for s in specs.values()) + 300
    for proc in procs:
        if proc.wait(timeout=max(1.0, limit - time.monotonic())) != 0:
            raise RuntimeError(f"a load generator failed (exit {proc.returncode})")
    return [json.loads((tmp / f"{name}.json").read_text()) for name in specs]


def run_role(base: str, tmp: Path, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return run_roles(base, tmp, {name: spec})[0]


def web_rows(r: dict[str, Any], n: int, load0: float, load1: float) -> list[dict[str, Any]]:
    """Rows of the generated benchmark table: each figure against its target."""
    from _common import table_row

    def met(value: float | None, target: float) -> str:
        return "not measured" if value is None else ("met" if value < target else "not met")

    size, load, users = f"{n:,} customers", (load0, load1), r["users"]
    return [
        table_row(
            f"web: {users} users log in at once (argon2id {argon2_row()})",
            size,
            "none (latency)",
            None,
            None,
            f"login p95 {r['login_p95_ms']} ms, target < 1000 ms: {met(r['login_p95_ms'], 1000)}",
            load,
            f"during the hostile upload: p95 {r['login_attacked_p95_ms']} ms",
        ),
        table_row(
            f"web: cached dashboards, {users} users, about {THINK_S:g} s between pages",
            size,
            "none (latency)",
            None,
            None,
            f"p95 {r['paced_p95_ms']} ms at {r['paced_rps']} pages/s, target < 100 ms: "
            f"{met(r['paced_p95_ms'], 100)}",
            load,
            f"one user alone p95 {r['cached_alone_p95_ms']} ms",
        ),
        table_row(
            f"web: cached dashboards, {users} users without pause (saturation)",
            size,
            "static file from the same server",
            r.get("ratio"),
            None,
            f"p95 {r['p95_ms']} ms at {r['browse_rps']} pages/s (static file p95 "
            f"{r['peer_p95_ms']} ms); under 100 ms without pause: {met(r['p95_ms'], 100)}",
            load,
            "queueing: each user waits behind the other 19; the load generator shares the 2 cores",
        ),
        table_row(
            "web: first view after new results (uncached)",
            size,
            "none (latency)",
            None,
            None,
            f"p95 {r['first_view_p95_ms']} ms, target < 2000 ms: "
            f"{met(r['first_view_p95_ms'], 2000)}",
            load,
        ),
        table_row(
            "web: browsing while another tenant uploads hostile files",
            size,
            "the same browsing unattacked",
            None,
            None,
            f"p95 x{r['hostile_p95_ratio']} (target <= 2), {r['errors']} errors",
            load,
        ),
    ]


def paced_figures(paced: dict[str, Any]) -> dict[str, Any]:
    """The paced phase's figures: cached browsing at a person's pace."""
    browse = paced["browse_s"]
    return {
        "paced_p50_ms": pct(browse, 50),
        "paced_p95_ms": pct(browse, 95),
        "paced_p99_ms": pct(browse, 99),
        "paced_rps": round(len(browse) / paced["elapsed_s"], 1),
        "paced_label": f"cached browsing, 20 users each pausing {THINK_S / 2:g} to "
        f"{THINK_S * 1.5:g} s between pages (the target's case)",
        "paced_errors": len(paced["errors"]),
    }


def argon2_row() -> str:
    from levelfield.web import Settings

    d = Settings()
    return f"m={d.argon2_memory_kib // 1024} MiB, t={d.argon2_time_cost}, p={d.argon2_parallelism}"


def summarize(
    args: argparse.Namespace,
    n_customers: int,
    quiet: dict[str, Any],
    attacked: dict[str, Any],
    attack: dict[str, Any],
    uncached: dict[str, Any],
) -> dict[str, Any]:
    """The JSON result: cached browsing, logins, first views, and the hostile-tenant ratio."""
    browse, static = quiet["browse_s"], quiet["static_s"]
    login = quiet["login_s"]  # the target's case: a burst of logins, nobody attacking
    every = browse + quiet["login_s"] + quiet["login_page_s"] + static
    p95_quiet, p95_attacked = pct(browse, 95), pct(attacked["browse_s"], 95)
    errors = quiet["errors"] + attacked["errors"] + uncached["errors"]
    result: dict[str, Any] = {
        "benchmark": "web_load",
        "n": n_customers,
        "users": args.users,
        "seconds": round(quiet["elapsed_s"], 1),
        "requests": len(every),
        "errors": len(errors),
        "error_samples": errors[:5],
        "rps": round(len(every) / quiet["elapsed_s"], 1),
        "p50_ms": pct(browse, 50),
        "p95_ms": p95_quiet,
        "p99_ms": pct(browse, 99),
        "p95_label": "cached browsing: overview and five dashboards, results parsed and "
        "rendered already (20 users, no pause between pages: saturation)",
        "browse_requests": len(browse),
        "browse_rps": round(len(browse) / quiet["elapsed_s"], 1),
        "login_p50_ms": pct(login, 50),
        "login_p95_ms": pct(login, 95),
        "login_max_ms": pct(login, 100),
        "login_label": f"POST /login of {args.users} users at once, argon2id at "
        f"OWASP's minimum ({argon2_row()}), one hashing thread per core",
        "login_attacked_p95_ms": pct(attacked["login_s"], 95),
        "login_attacked_label": "the same burst while another tenant uploads hostile files",
        "login_page_p95_ms": pct(quiet["login_page_s"], 95),
        "first_view_p50_ms": pct(uncached["first_view_s"], 50),
        "first_view_p95_ms": pct(uncached["first_view_s"], 95),
        "first_view_label": "first view of the overview and each dashboard after new "
        "results (uncached: stored results parsed, five numbers recomputed from DuckDB, "
        "charts rendered), one user",
        "first_view_requests": len(uncached["first_view_s"]),
        "cached_alone_p50_ms": pct(uncached.get("cached_alone_s", []), 50),
        "cached_alone_p95_ms": pct(uncached.get("cached_alone_s", []), 95),
        "cached_alone_label": "the same pages right after each first view (cached), one "
        "user alone: the server's service time without queueing behind 19 other users",
        "hostile_p95_ms": p95_attacked,
        "hostile_p95_ratio": round(p95_attacked / p95_quiet, 2)
        if p95_attacked and p95_quiet
        else None,
        "hostile_label": "the 20 users' browsing p95 while another tenant uploads a "
        "116,000-column CSV, a sparse and a zip-bomb XLSX, a headerless PII file, junk, "
        "and bursts of 30 uploads at once; ratio to the quiet p95 (target <= 2)",
        "hostile_uploads": attack["uploads"],
        "hostile_status_codes": attack["status_codes"],
        "overall_p50_ms": pct(every, 50),
        "overall_p95_ms": pct(every, 95),
        "ours_s": round(pct(browse, 50) / 1000, 4) if browse else None,
        "peer": "static file (/static/report.css) from the same server under the same load (floor)",
        "peer_s": round(pct(static, 50) / 1000, 4) if static else None,
        "peer_p95_ms": pct(static, 95),
        "target": "cached p95 < 100 ms at a person's pace, first view p95 < 2 s, login p95 < 1 s, "
        "hostile ratio <= 2, zero errors",
        "quick": bool(args.quick),
    }
    if result["ours_s"] and result["peer_s"]:
        result["ratio"] = round(result["peer_s"] / result["ours_s"], 3)
    return result


if __name__ == "__main__":
    main()
