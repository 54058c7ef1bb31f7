"""Measure the controller against the sandbox over loopback HTTP: a table on stdout, JSON on disk.

    python -m tests.benchmarks.run [--quick] [--out FILE.json] [--only no_change,apply,...]

Scenarios (BENCHMARKS.md has the targets and the reasoning):

1. ``no_change``  a no-change cycle at 1k/10k/100k tenants (--quick: 1k/10k): calls, wall, CPU, memory.
2. ``apply``      k creates+updates under a sandbox rate limit of R/s (k = 100, 1000; --quick: 100),
                  client limit = R, then once with the client limit at 2R (the 429 + Retry-After path).
2b. ``window``    k creates under Descope's form "N/Ws", client and sandbox limited the same ("20/4s"
                  k = 60, 300; the default "100/60s" k = 150; --quick: "20/4s" k = 60), against the ideal
                  floor((r-1)/N)*W + request time for the r requests of the cycle; then the client at
                  "40/4s" against the sandbox's "20/4s" (what a 429 and its block cost).
3. ``resume``     ``descope-gitops run`` killed with SIGKILL half-way through k creates, restarted.
4. ``webhook``    push webhook → change visible in the sandbox, 5 times, with a daemon on a long interval.
5. ``load``       tenants.yaml load + validate at 10k and 100k (reuses scenario 1's runs when it ran).

The sandbox runs as its own process (``descope-gitops sandbox``) so its CPU does not share the GIL
with the code measured; scenarios 1 and 2 run the real Reconciler in this process, built the way
``descope-gitops sync --apply`` builds it (compose.descope_client, state store, backups, journal);
scenarios 3 and 4 run the real ``descope-gitops run`` as a subprocess reading a Git repo over file://.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import signal
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from controller.descope_api import API_RATE_LIMIT, RateLimit
from tests.benchmarks import harness
from tests.benchmarks.harness import (
    CREATE,
    LOAD_SETTINGS,
    MANAGEMENT_KEY,
    PROJECT_ID,
    WRITE_PATHS,
    BenchTimeout,
    GitRepo,
    Processes,
    Sandbox,
    live_record,
    machine_info,
    tenant_id,
    tenants_yaml,
    wait_until,
)

DEFAULT_OUT = Path(__file__).resolve().parent / "results.json"
SCENARIOS = ("no_change", "apply", "window", "resume", "webhook", "load")

RATE = 50.0  # R: requests/s the sandbox admits (rate_window_s = 1)
LATENCY_MS = 20.0  # sandbox latency for the write scenarios
HANDFUL = 5  # "at most a handful of 429s"
MAX_CONCURRENCY = 4  # the default [descope] max_concurrency
PLAN_CPU_PER_100K = 1.0  # the target: planning 100k tenants takes well under a second of CPU
WEBHOOK_REPEATS = 5
SETTINGS_TENANTS = 1_000


@dataclass
class Row:
    scenario: str
    name: str
    value: float | int | str | None
    unit: str = ""
    target: str = "—"
    met: bool | None = None  # None: no target (informative)
    details: dict[str, Any] = field(default_factory=dict)

    def shown_value(self) -> str:
        if self.value is None:
            return "n/a"
        if isinstance(self.value, float):
            text = f"{self.value:.3f}" if abs(self.value) < 10 else f"{self.value:.1f}"
        else:
            text = str(self.value)
        return f"{text} {self.unit}".strip()

    def shown_met(self) -> str:
        return {True: "yes", False: "NO", None: "—"}[self.met]


class Bench:
    def __init__(self, args: argparse.Namespace, workdir: Path) -> None:
        self.quick: bool = args.quick
        self.workdir = workdir
        self.processes = Processes()
        self.rows: list[Row] = []
        self.loads: dict[int, dict[str, Any]] = {}  # tenants -> load timings (shared by scenarios 1 and 5)
        self.notes: list[str] = []

    # ----- helpers ----------------------------------------------------------------------------------
    def add(self, row: Row) -> Row:
        self.rows.append(row)
        print(f"    {row.name}: {row.shown_value()}  (target {row.target}: {row.shown_met()})", file=sys.stderr)
        return row

    def dir(self, name: str) -> Path:
        path = self.workdir / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    @contextmanager
    def sandbox(self) -> Iterator[Sandbox]:
        with harness.sandbox(self.processes, self.workdir) as sandbox:
            yield sandbox

    @contextmanager
    def reconciler(
        self,
        sandbox: Sandbox,
        tenants_file: Path,
        store: Path,
        *,
        rate_limit: float | str,
        on_request: Callable[[str, str, float], None] | None = None,
    ) -> Iterator[Any]:
        """The Reconciler exactly as ``descope-gitops sync --apply`` builds it (minus the store lock)."""
        from controller.engine import compose
        from controller.engine.cycle import CycleOptions
        from controller.engine.reconciler import Reconciler
        from controller.settings import Settings

        settings = Settings(
            descope={
                "project_id": PROJECT_ID,
                "management_key": MANAGEMENT_KEY,
                "base_url": sandbox.url,
                "rate_limit": rate_limit,
                "max_concurrency": MAX_CONCURRENCY,
                "timeout": 120,
            },
            source={"kind": "local", "path": str(tenants_file)},
            store={"dir": str(store)},
        )
        options = CycleOptions(
            apply=True,
            drift_policy=settings.reconcile.drift_policy,
            policy=compose.plan_policy(settings),
            max_concurrency=settings.descope.max_concurrency,
        )
        with compose.descope_client(settings, on_request=on_request) as client:
            reconciler = Reconciler(
                compose.local_source(tenants_file),
                client,
                compose.state_store(settings),
                backups=compose.backup_store(settings),
            )
            yield reconciler, options, client

    # ----- 1 + 5: no-change cycle, load + validate ---------------------------------------------------
    def no_change(self) -> None:
        sizes = (1_000, 10_000) if self.quick else (1_000, 10_000, 100_000)
        with self.sandbox() as sandbox:
            sandbox.configure(latency_ms=0, rate_limit=None)
            for n in sizes:
                self._no_change_at(sandbox, n)
            self._no_change_settings(sandbox, SETTINGS_TENANTS)
        mems = {n: self.loads[n]["peak_bytes"] / n for n in sizes if "peak_bytes" in self.loads.get(n, {})}
        if len(mems) >= 2:
            small, large = min(mems), max(mems)
            ratio = mems[large] / mems[small]
            self.add(
                Row(
                    "no_change",
                    f"memory per tenant, {large // 1000}k vs {small // 1000}k",
                    round(ratio, 2),
                    "x",
                    "≤ 1.25 (proportional)",
                    ratio <= 1.25,
                    {"bytes_per_tenant": {str(n): round(b) for n, b in mems.items()}},
                )
            )

    def _no_change_at(self, sandbox: Sandbox, n: int) -> None:
        from controller.adapters.local_source import read_tenant_files
        from controller.core.loader import parse_tenant_files
        from controller.core.plan import make_plan

        label = f"{n // 1000}k"
        print(f"[no_change] {label} tenants", file=sys.stderr)
        here = self.dir(f"no-change-{label}")
        tenants_file = here / "tenants.yaml"
        tenants_file.write_bytes(tenants_yaml(range(n)))
        started = time.perf_counter()
        sandbox.seed([live_record(i) for i in range(n)], replace=True)
        seed_s = time.perf_counter() - started
        sandbox.reset_stats()
        with self.reconciler(sandbox, tenants_file, here / "store", rate_limit=RATE) as (reconciler, options, client):
            first = reconciler.run_cycle(options)  # seeded identical: already a no-change cycle; records the inventory
            if first.status != "succeeded" or first.plan is None or first.plan.actions:
                raise RuntimeError(f"the converging cycle at {label} did not converge: {first.status} {first.error}")
            first_calls = sandbox.stats()["total"]
            sandbox.reset_stats()
            gc.collect()
            wall0, cpu0 = time.perf_counter(), time.process_time()
            report = reconciler.run_cycle(options)
            wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
            stats = sandbox.stats()
            if report.status != "succeeded":
                raise RuntimeError(f"the no-change cycle at {label} ended {report.status}: {report.error}")
            actions = len(report.plan.actions) if report.plan else None

            # the same inputs, timed piece by piece
            files = read_tenant_files(tenants_file)
            size = sum(len(b) for b in files.values())
            repeats = 2 if n >= 100_000 else 3
            load_cpu, load_wall, plan_cpu = [], [], []
            desired = None
            for _ in range(repeats):
                desired = None
                gc.collect()
                w, c = time.perf_counter(), time.process_time()
                desired = parse_tenant_files(files)
                load_cpu.append(time.process_time() - c)
                load_wall.append(time.perf_counter() - w)
            assert desired is not None
            w = time.perf_counter()
            live = client.load_all()
            fetch_wall = time.perf_counter() - w
            state = reconciler.state_store.load()
            for _ in range(repeats):
                gc.collect()
                c = time.process_time()
                plan = make_plan(
                    desired,
                    live,
                    inventory=state.inventory,
                    live_settings={},
                    last_applied_count=state.last_applied_count,
                    policy=options.policy,
                )
                plan_cpu.append(time.process_time() - c)
                assert not plan.actions
            del desired, live, plan
            peak = self._peak_memory(files, client, state, options)
        self.loads[n] = {
            "file_bytes": size,
            "load_cpu_s": load_cpu,
            "load_wall_s": load_wall,
            "plan_cpu_s": plan_cpu,
            "peak_bytes": peak["peak_bytes"],
        }
        calls = stats["total"]
        common = {
            "tenants": n,
            "seed_s": round(seed_s, 3),
            "first_cycle_calls": first_calls,
            "requests": stats["requests"],
            "writes": stats["writes"],
            "actions": actions,
        }
        self.add(
            Row(
                "no_change",
                f"no-change {label}: Descope calls",
                calls,
                "",
                "= 1, 0 writes",
                calls == 1 and stats["writes"] == 0,
                common,
            )
        )
        self.add(
            Row(
                "no_change",
                f"no-change {label}: cycle wall time",
                round(wall, 3),
                "s",
                details={"cycle_cpu_s": round(cpu, 3), "get_all_wall_s": round(fetch_wall, 3)},
            )
        )
        self.add(
            Row(
                "no_change",
                f"no-change {label}: load+validate CPU",
                round(min(load_cpu), 3),
                "s",
                details={"samples_s": [round(x, 3) for x in load_cpu], "file_bytes": size},
            )
        )
        budget = PLAN_CPU_PER_100K * n / 100_000
        self.add(
            Row(
                "no_change",
                f"no-change {label}: plan CPU",
                round(min(plan_cpu), 3),
                "s",
                f"< {budget:g} s (1 s/100k)",
                min(plan_cpu) < budget,
                {"samples_s": [round(x, 3) for x in plan_cpu]},
            )
        )
        self.add(
            Row(
                "no_change",
                f"no-change {label}: peak memory load+fetch+plan",
                round(peak["peak_bytes"] / 2**20, 1),
                "MiB",
                details={k: (round(v / 2**20, 1) if k.endswith("bytes") else v) for k, v in peak.items()}
                | {"bytes_per_tenant": round(peak["peak_bytes"] / n), "method": "tracemalloc peak"},
            )
        )

    def _no_change_settings(self, sandbox: Sandbox, n: int) -> None:
        """Tenants whose YAML has a ``settings`` block, adopted (the controller never wrote their settings)."""
        label = f"{n // 1000}k"
        print(f"[no_change] {label} tenants with settings blocks, adopted", file=sys.stderr)
        here = self.dir(f"no-change-settings-{label}")
        tenants_file = here / "tenants.yaml"
        tenants_file.write_bytes(tenants_yaml(range(n), settings=True))
        sandbox.seed([live_record(i) for i in range(n)], replace=True)
        client_rate = 1000.0  # the calls are what is measured; a fast client keeps the run short
        with self.reconciler(sandbox, tenants_file, here / "store", rate_limit=client_rate) as (reconciler, options, _):
            first = reconciler.run_cycle(options)
            if first.status != "succeeded" or first.plan is None or first.plan.actions:
                raise RuntimeError(f"the settings cycle at {label} did not converge: {first.status} {first.error}")
            sandbox.reset_stats()
            wall0 = time.perf_counter()
            report = reconciler.run_cycle(options)
            wall = time.perf_counter() - wall0
            stats = sandbox.stats()
        calls = stats["total"]
        self.add(
            Row(
                "no_change",
                f"no-change {label} with settings blocks (adopted tenants): Descope calls",
                calls,
                "",
                "= 1, 0 writes",
                calls == 1 and stats["writes"] == 0,
                {
                    "tenants": n,
                    "requests": stats["requests"],
                    "writes": stats["writes"],
                    "status": report.status,
                    "wall_s_at_client_rate_1000": round(wall, 3),
                    "seconds_per_cycle_at_default_rate_limit": ideal_seconds(calls, API_RATE_LIMIT),
                },
            )
        )

    @staticmethod
    def _peak_memory(files: dict[str, bytes], client: Any, state: Any, options: Any) -> dict[str, Any]:
        """tracemalloc peak of parse + GET /tenant/all + plan (Python allocations; the file bytes excluded)."""
        from controller.core.loader import parse_tenant_files
        from controller.core.plan import make_plan

        gc.collect()
        tracemalloc.start()
        try:
            desired = parse_tenant_files(files)
            after_load = tracemalloc.get_traced_memory()[0]
            live = client.load_all()
            after_fetch = tracemalloc.get_traced_memory()[0]
            make_plan(
                desired,
                live,
                inventory=state.inventory,
                live_settings={},
                last_applied_count=state.last_applied_count,
                policy=options.policy,
            )
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        return {
            "peak_bytes": peak,
            "desired_state_bytes": after_load,
            "live_list_bytes": after_fetch - after_load,
        }

    def load(self) -> None:
        from controller.core.loader import parse_tenant_files

        for n in (10_000, 100_000):
            label = f"{n // 1000}k"
            if n not in self.loads:
                print(f"[load] {label} tenants", file=sys.stderr)
                files = {"tenants.yaml": tenants_yaml(range(n))}
                cpu, wall = [], []
                for _ in range(2):
                    gc.collect()
                    w, c = time.perf_counter(), time.process_time()
                    parse_tenant_files(files)
                    cpu.append(time.process_time() - c)
                    wall.append(time.perf_counter() - w)
                self.loads[n] = {"file_bytes": len(files["tenants.yaml"]), "load_cpu_s": cpu, "load_wall_s": wall}
            data = self.loads[n]
            size = data["file_bytes"]
            best = min(data["load_cpu_s"])
            self.add(
                Row(
                    "load",
                    f"load+validate {label} ({size / 2**20:.1f} MiB)",
                    round(best, 3),
                    "s CPU",
                    details={
                        "file_bytes": size,
                        "cpu_samples_s": [round(x, 3) for x in data["load_cpu_s"]],
                        "wall_samples_s": [round(x, 3) for x in data["load_wall_s"]],
                        "mib_per_cpu_s": round(size / 2**20 / best, 2),
                        "us_per_tenant": round(best / n * 1e6, 1),
                    },
                )
            )

    # ----- 2: apply k changes under a rate limit ----------------------------------------------------
    def apply(self) -> None:
        ks = (100,) if self.quick else (100, 1000)
        with self.sandbox() as sandbox:
            for k in ks:
                self._apply(sandbox, k, client_rate=RATE)
            self._apply(sandbox, 100, client_rate=2 * RATE, variant="2R")

    def _apply(self, sandbox: Sandbox, k: int, *, client_rate: float, variant: str = "R") -> None:
        tag = f"apply {k} @ client {client_rate:g}/s, sandbox {RATE:g}/s"
        print(f"[apply] {tag}", file=sys.stderr)
        here = self.dir(f"apply-{k}-{client_rate:g}")
        updates = k // 2
        creates = k - updates
        # tenants 0..updates-1 exist with their normal plan; the YAML moves them to "enterprise" (a PATCH
        # each) and adds `creates` new tenants (a POST /create each): k writes in all.
        sandbox.configure(latency_ms=0, rate_limit=None)
        sandbox.seed([live_record(i) for i in range(updates)], replace=True)
        tenants_file = here / "tenants.yaml"
        tenants_file.write_bytes(tenants_yaml(range(k), plan_for=lambda i: "enterprise" if i < updates else None))
        sandbox.configure(latency_ms=LATENCY_MS, rate_limit=RATE)
        timeline: list[tuple[float, float, str]] = []  # (sent, answered, status) by the client's monotonic clock

        def on_request(op: str, code: str, elapsed: float) -> None:
            now = time.monotonic()
            timeline.append((now - elapsed, now, code))

        store = here / "store"
        with self.reconciler(sandbox, tenants_file, store, rate_limit=client_rate, on_request=on_request) as (
            reconciler,
            options,
            _,
        ):
            harness.quiet()
            sandbox.reset_stats()
            wall0, cpu0 = time.perf_counter(), time.process_time()
            report = reconciler.run_cycle(options)
            wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
            stats = sandbox.stats()
        sandbox.configure(latency_ms=0, rate_limit=None)
        live = {t["id"]: t for t in sandbox.tenants()}
        done = sum(
            1
            for i in range(k)
            if tenant_id(i) in live
            and (i >= updates or live[tenant_id(i)]["customAttributes"].get("plan") == "enterprise")
        )
        requests = stats["requests"]
        write_requests = sum(requests.get(p, 0) for p in WRITE_PATHS)
        retries = write_requests - stats["writes"]
        ideal = k / RATE
        failed = len(report.applied.failed) if report.applied else None
        details = {
            "k": k,
            "creates": creates,
            "updates": updates,
            "sandbox_rate_limit": RATE,
            "rate_window_s": 1.0,
            "sandbox_latency_ms": LATENCY_MS,
            "client_rate_limit": client_rate,
            "max_concurrency": MAX_CONCURRENCY,
            "ideal_s": ideal,
            "ratio_to_ideal": round(wall / ideal, 3),
            "cycle_cpu_s": round(cpu, 3),
            "status": report.status,
            "failed_actions": failed,
            "first_failures": [f.error[:200] for f in (report.applied.failed if report.applied else ())][:3],
            "tenants_in_desired_state": done,
            "requests": requests,
            "status_codes": stats["status"],
            "writes_applied": stats["writes"],
            "write_requests": write_requests,
            "rate_limited": stats["rate_limited"],
        } | _timeline_facts(timeline)
        prefix = f"apply {k} @ {variant}={client_rate:g}/s"
        if variant == "2R":
            self.add(
                Row(
                    "apply",
                    f"{prefix}: wall time (client ABOVE sandbox limit)",
                    round(wall, 3),
                    "s",
                    f"informative; ideal k/R = {ideal:g} s",
                    None,
                    details,
                )
            )
            self.add(Row("apply", f"{prefix}: 429s received", stats["rate_limited"], "", "— (expected > 0)", None))
            self.add(Row("apply", f"{prefix}: retries", retries, ""))
            pause = details.get("median_pause_after_429_s")
            self.add(
                Row(
                    "apply",
                    f"{prefix}: Retry-After honoured (median pause after a 429)",
                    pause,
                    "s",
                    "≥ 1 s (Retry-After: 1)" if pause is not None else "—",
                    None if pause is None else pause >= 0.95,
                )
            )
            self.add(
                Row(
                    "apply",
                    f"{prefix}: all {k} writes applied",
                    f"{stats['writes']}/{k}",
                    "",
                    f"{k}/{k}, no failed action",
                    stats["writes"] == k and not failed and report.status == "succeeded",
                )
            )
            return
        self.add(
            Row(
                "apply",
                f"{prefix}: wall time",
                round(wall, 3),
                "s",
                f"≤ {1.2 * ideal:g} s (1.2 x k/R)",
                wall <= 1.2 * ideal and report.status == "succeeded",
                details,
            )
        )
        self.add(
            Row(
                "apply",
                f"{prefix}: 429s received",
                stats["rate_limited"],
                "",
                f"≤ {HANDFUL}",
                stats["rate_limited"] <= HANDFUL,
            )
        )
        self.add(Row("apply", f"{prefix}: retries", retries, "", f"≤ {HANDFUL}", retries <= HANDFUL))
        self.add(
            Row(
                "apply",
                f"{prefix}: writes applied",
                f"{stats['writes']}/{k}",
                "",
                f"exactly {k}",
                stats["writes"] == k and report.status == "succeeded",
            )
        )

    # ----- 2b: k creates under Descope's form, "N/Ws" ------------------------------------------------
    def window(self) -> None:
        runs = [("20/4s", "20/4s", 60)]  # (client limit, sandbox limit, creates)
        if not self.quick:
            runs += [("20/4s", "20/4s", 300), ("100/60s", "100/60s", 150)]
        runs.append(("40/4s", "20/4s", 60))  # diagnosis: the client set above the project's limit
        with self.sandbox() as sandbox:
            for client_limit, sandbox_limit, k in runs:
                self._window(sandbox, k, client_limit=client_limit, sandbox_limit=sandbox_limit)

    def _window(self, sandbox: Sandbox, k: int, *, client_limit: str, sandbox_limit: str) -> None:
        limit = RateLimit.parse(sandbox_limit)
        print(f"[window] {k} creates @ client {client_limit}, sandbox {sandbox_limit}", file=sys.stderr)
        here = self.dir(f"window-{k}-{client_limit.replace('/', '-')}")
        sandbox.configure(latency_ms=0, rate_limit=None)
        sandbox.seed([], replace=True)
        tenants_file = here / "tenants.yaml"
        tenants_file.write_bytes(tenants_yaml(range(k)))
        timeline: list[tuple[float, float, str]] = []

        def on_request(op: str, code: str, elapsed: float) -> None:
            now = time.monotonic()
            timeline.append((now - elapsed, now, code))

        with self.reconciler(sandbox, tenants_file, here / "store", rate_limit=client_limit, on_request=on_request) as (
            reconciler,
            options,
            _,
        ):
            sandbox.configure(latency_ms=LATENCY_MS, rate_limit=sandbox_limit)  # a fresh window: a full budget
            sandbox.reset_stats()
            wall0 = time.perf_counter()
            report = reconciler.run_cycle(options)
            wall = time.perf_counter() - wall0
            stats = sandbox.stats()
        sandbox.configure(latency_ms=0, rate_limit=None)
        created = len(sandbox.tenants())
        needed = stats["total"] - stats["rate_limited"]  # what the cycle had to send: a refused request goes again
        trips = [answered - sent for sent, answered, code in timeline if code != "429"]
        request_s = statistics.median(trips) if trips else 0.0
        ideal = ideal_seconds(needed, limit, request_s, MAX_CONCURRENCY)
        failed = len(report.applied.failed) if report.applied else None
        details = {
            "k": k,
            "client_rate_limit": client_limit,
            "sandbox_rate_limit": sandbox_limit,
            "sandbox_latency_ms": LATENCY_MS,
            "max_concurrency": MAX_CONCURRENCY,
            "requests_needed": needed,
            "median_request_s": round(request_s, 4),
            "ideal_s": round(ideal, 3),
            "ideal_formula": "floor((r-1)/N)*W + ceil(last window's requests / max_concurrency) * median request",
            "ideal_k_writes_only_s": round(ideal_seconds(k, limit, request_s, MAX_CONCURRENCY), 3),
            "ratio_to_ideal": round(wall / ideal, 3) if ideal else None,
            "over_ideal_s": round(wall - ideal, 3),
            "status": report.status,
            "failed_actions": failed,
            "first_failures": [f.error[:200] for f in (report.applied.failed if report.applied else ())][:3],
            "created": created,
            "requests": stats["requests"],
            "status_codes": stats["status"],
            "writes_applied": stats["writes"],
            "rate_limited": stats["rate_limited"],
        } | _timeline_facts(timeline, limit.window_s)
        prefix = f"{k} creates @ {client_limit}" + ("" if client_limit == sandbox_limit else f" vs {sandbox_limit}")
        if client_limit != sandbox_limit:
            self.add(
                Row(
                    "window",
                    f"{prefix}: wall time (client ABOVE the limit)",
                    round(wall, 3),
                    "s",
                    "informative",
                    None,
                    details,
                )
            )
            self.add(Row("window", f"{prefix}: 429s received", stats["rate_limited"], "", "— (expected > 0)"))
            self.add(Row("window", f"{prefix}: created", f"{created}/{k}", "", f"informative; {failed} failed"))
            return
        self.add(
            Row(
                "window",
                f"{prefix}: wall time vs ideal {ideal:.2f} s ({needed} requests)",
                round(wall, 3),
                "s",
                f"≤ 1.1 x ideal = {1.1 * ideal:.2f} s",
                wall <= 1.1 * ideal and report.status == "succeeded",
                details,
            )
        )
        self.add(
            Row("window", f"{prefix}: 429s received", stats["rate_limited"], "", "= 0", stats["rate_limited"] == 0)
        )
        self.add(
            Row(
                "window",
                f"{prefix}: created",
                f"{created}/{k}",
                "",
                f"{k}/{k}, written once",
                created == k and stats["writes"] == k and report.status == "succeeded",
            )
        )

    # ----- 3: SIGKILL in the middle of the creates, restart, resume -------------------------------------
    def resume(self) -> None:
        k = 100 if self.quick else 1000
        print(f"[resume] {k} creates, SIGKILL half-way", file=sys.stderr)
        here = self.dir("resume")
        repo = GitRepo(here / "repo", user="Benchmark", email="bench@example.com")
        sha = repo.commit({"tenants.yaml": tenants_yaml(range(k))})
        with self.sandbox() as sandbox:
            sandbox.seed([], replace=True)
            sandbox.configure(latency_ms=LATENCY_MS, rate_limit=RATE)
            sandbox.reset_stats()
            daemon = harness.daemon(self.processes, here, sandbox=sandbox, repo=repo, rate_limit=RATE)
            try:
                started = time.perf_counter()
                harness.start(daemon)
                half = k // 2

                def half_done() -> bool:
                    if not daemon.alive():
                        raise RuntimeError(f"the daemon exited early; see {here}/daemon-1.log")
                    return int(sandbox.stats()["writes"]) >= half

                wait_until(half_done, timeout=60 + 2 * k / RATE, interval=0.02, what=f"{half} creates")
                at_kill = sandbox.stats()
                daemon.kill()
                killed_at = time.perf_counter()
                time.sleep(max(1.0, 3 * LATENCY_MS / 1000))  # requests in flight finish (or not) at the sandbox
                after_kill = sandbox.stats()
                landed_after_kill = after_kill["writes"] - at_kill["writes"]
                journal = (daemon.store / "journal.jsonl").exists()
                restart = time.perf_counter()
                harness.start(daemon)
                wait_until(
                    lambda: daemon.alive() and sandbox.stats()["writes"] >= k,
                    timeout=60 + 3 * k / RATE,
                    interval=0.1,
                    what=f"all {k} creates after the restart",
                )
                all_done = time.perf_counter()
                daemon.wait_applied(sha, timeout=60, interval=0.1, what="the resumed cycle to be recorded")
                final = sandbox.stats()
                present = {t["id"] for t in sandbox.tenants()}
                stop0 = time.perf_counter()
                exit_code = daemon.stop()
                stop_s = time.perf_counter() - stop0
            finally:
                daemon.stop()
            log = daemon.log
        missing = [tenant_id(i) for i in range(k) if tenant_id(i) not in present]
        create_requests = final["requests"].get(CREATE, 0)
        extra = create_requests - k
        in_flight = at_kill["total"] - sum(at_kill["status"].values())  # received, not yet answered, at the kill
        conflicts = final["status"].get("409", 0)
        executed_twice = conflicts + max(0, final["writes"] - k)  # only creates write in this scenario
        refused = create_requests - final["writes"] - conflicts  # the rest of the create requests got a 429
        details = {
            "k": k,
            "max_concurrency": MAX_CONCURRENCY,
            "killed_after_s": round(killed_at - started, 3),
            "writes_at_kill": at_kill["writes"],
            "create_requests_at_kill": at_kill["requests"].get(CREATE, 0),
            "rate_limited_at_kill": at_kill["rate_limited"],
            "in_flight_at_kill": in_flight,
            "creates_landed_after_kill": landed_after_kill,
            "journal_left_by_kill": journal,
            "restart_to_all_present_s": round(all_done - restart, 3),
            "total_wall_s": round(all_done - started, 3),
            "ideal_s": k / RATE,
            "create_requests": create_requests,
            "status_codes": final["status"],
            "rate_limited": final["rate_limited"],
            "requests": final["requests"],
            "settings_reads": final["requests"].get(LOAD_SETTINGS, 0),
            "duplicate_creates_409": conflicts,
            "create_requests_refused_429": refused,
            "creates_executed_twice": executed_twice,
            "missing": missing[:10],
            "resume_logged": "resuming interrupted cycle" in log,
            "sigterm_to_exit_s": round(stop_s, 3),
            "exit_code": exit_code,
        }
        self.add(
            Row(
                "resume",
                f"resume after SIGKILL ({k} creates): extra create requests",
                extra,
                "",
                f"≤ {MAX_CONCURRENCY} (max_concurrency)",
                extra <= MAX_CONCURRENCY and not missing,
                details,
            )
        )
        self.add(
            Row(
                "resume",
                f"resume after SIGKILL ({k} creates): … of which refused with 429",
                refused,
                "",
                "informative (rate limit, not the crash)",
            )
        )
        self.add(
            Row(
                "resume",
                f"resume after SIGKILL ({k} creates): creates executed twice (409)",
                executed_twice,
                "",
                f"≤ in flight at kill ({in_flight}) ≤ {MAX_CONCURRENCY}",
                executed_twice <= min(in_flight, MAX_CONCURRENCY),
            )
        )
        self.add(
            Row(
                "resume",
                f"resume after SIGKILL ({k} creates): start → all {k} exist",
                round(all_done - started, 3),
                "s",
                details={"ideal_k_over_R_s": k / RATE, "restart_to_done_s": round(all_done - restart, 3)},
            )
        )
        self.add(
            Row(
                "resume",
                f"resume after SIGKILL ({k} creates): settings reads (start-up snapshot)",
                details["settings_reads"],
                "",
            )
        )

    # ----- 4: webhook → applied --------------------------------------------------------------------
    def webhook(self) -> None:
        n = 100
        changed = 7
        print(f"[webhook] {WEBHOOK_REPEATS} one-tenant changes, {n} tenants", file=sys.stderr)
        here = self.dir("webhook")
        repo = GitRepo(here / "repo", user="Benchmark", email="bench@example.com")
        yaml0 = tenants_yaml(range(n))
        sha = repo.commit({"tenants.yaml": yaml0})
        latencies: list[float] = []
        cycles: list[float] = []
        with self.sandbox() as sandbox:
            sandbox.seed([live_record(i) for i in range(n)], replace=True)
            sandbox.configure(latency_ms=LATENCY_MS, rate_limit=RATE)
            daemon = harness.daemon(self.processes, here, sandbox=sandbox, repo=repo, rate_limit=RATE, interval=3600)
            try:
                harness.start(daemon)
                daemon.wait_ready(timeout=60, interval=0.1, what="the daemon to be ready")
                daemon.wait_applied(sha, timeout=60, what="the first cycle")
                # the first snapshot comes 60 s after a start with no snapshot yet (or continues the
                # schedule of the last one), so the measured rounds below run without it
                time.sleep(0.5)
                for rep in range(WEBHOOK_REPEATS):
                    new_name = f"Renamed {rep} {time.time_ns()}"
                    text = yaml0.decode().replace(f"name: Tenant {changed:06d}\n", f"name: {new_name}\n")
                    sha = repo.commit({"tenants.yaml": text.encode()}, message=f"rename {rep}")
                    t0 = time.perf_counter()
                    response = daemon.push(sha, delivery=f"bench-{sha[:12]}", timeout=10)
                    if response.status_code != 202 or not response.json().get("triggered"):
                        raise RuntimeError(f"webhook not accepted: {response.status_code} {response.text}")

                    def applied(new_name: str = new_name) -> bool:
                        record = next((t for t in sandbox.tenants() if t["id"] == tenant_id(changed)), None)
                        return record is not None and record["name"] == new_name

                    wait_until(applied, timeout=30, interval=0.02, what=f"webhook change {rep}")
                    latencies.append(time.perf_counter() - t0)

                    def cycle_recorded(recorded: str = sha) -> bool:
                        return bool(daemon.state().get("last_applied_revision") == recorded)

                    wait_until(
                        cycle_recorded,
                        timeout=30,
                        what="the webhook cycle to be recorded",
                    )
                    last = daemon.state().get("last_cycle") or {}
                    cycles.append(float(last.get("finished", 0)) - float(last.get("started", 0)))
                    time.sleep(0.3)
            finally:
                daemon.stop()
        median, worst = statistics.median(latencies), max(latencies)
        cycle = max(cycles) if cycles else 0.0
        target = 2.0 + cycle
        self.add(
            Row(
                "webhook",
                f"webhook → applied ({WEBHOOK_REPEATS}x, {n} tenants): median",
                round(median, 3),
                "s",
                f"< 2 s + one cycle ({target:.2f} s)",
                median < target,
                {"samples_s": [round(x, 3) for x in latencies], "cycle_s": [round(x, 3) for x in cycles]},
            )
        )
        self.add(
            Row(
                "webhook",
                f"webhook → applied ({WEBHOOK_REPEATS}x, {n} tenants): max",
                round(worst, 3),
                "s",
                f"< 2 s + one cycle ({target:.2f} s)",
                worst < target,
            )
        )

    # ----- output -----------------------------------------------------------------------------------
    def table(self) -> str:
        headers = ("measurement", "value", "target", "met?")
        body = [(r.name, r.shown_value(), r.target, r.shown_met()) for r in self.rows]
        widths = [max(len(h), *(len(row[i]) for row in body)) if body else len(h) for i, h in enumerate(headers)]
        line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
        out = [line, "  ".join("-" * w for w in widths)]
        out += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in body]
        return "\n".join(out)


def ideal_seconds(requests: int, limit: RateLimit, request_s: float = 0.0, concurrency: int = 1) -> float:
    """The least time ``requests`` take under N per W: full windows, then the last window's requests."""
    if requests <= 0:
        return 0.0
    windows = (requests - 1) // limit.count
    last = requests - windows * limit.count
    return float(windows * limit.window_s + math.ceil(last / concurrency) * request_s)


def _timeline_facts(timeline: list[tuple[float, float, str]], window: float = 1.0) -> dict[str, Any]:
    """What the client did, by its own clock: its busiest window, and how long it paused after each 429."""
    if not timeline:
        return {}
    sent = sorted(t[0] for t in timeline)
    busiest, j = 0, 0
    for i, start in enumerate(sent):  # requests sent in [start, start + window)
        while j < len(sent) and sent[j] < start + window:
            j += 1
        busiest = max(busiest, j - i)
    pauses, slipped = [], 0
    for _sent, answered, code in timeline:
        if code == "429":
            later = [s for s in sent if s > answered]
            if later:
                pauses.append(min(later) - answered)
            # sent inside the next 0.9 windows: a request already past the limiter when the 429 came back
            slipped += sum(1 for s in sent if answered < s < answered + 0.9 * window)
    facts: dict[str, Any] = {f"client_max_sends_in_any_{window:g}s": busiest, "client_requests": len(sent)}
    if pauses:
        facts["median_pause_after_429_s"] = round(statistics.median(pauses), 3)
        facts["pauses_after_429_s"] = [round(p, 3) for p in pauses[:20]]
        facts[f"sends_within_{0.9 * window:g}s_after_a_429"] = slipped
    return facts


def _alarm(signum: int, frame: Any) -> None:
    raise BenchTimeout("the whole run passed its --timeout")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.benchmarks.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes (1k/10k tenants, k = 100)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"JSON results (default: {DEFAULT_OUT})")
    parser.add_argument("--only", default=",".join(SCENARIOS), help=f"comma-separated subset of {', '.join(SCENARIOS)}")
    parser.add_argument("--timeout", type=float, default=900, help="stop the whole run after this many seconds")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs, stores) and print it")
    args = parser.parse_args(argv)
    only = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = sorted(set(only) - set(SCENARIOS))
    if unknown:
        parser.error(f"unknown scenario(s): {', '.join(unknown)}")

    for key in [k for k in os.environ if k.startswith("DESCOPE_")]:
        del os.environ[key]  # the settings built here must not pick up a developer's own
    from controller.engine.logs import configure_logging

    configure_logging("WARNING", "text")
    info = machine_info()
    info["mode"] = "quick" if args.quick else "full"
    print(
        f"descope-gitops benchmarks ({info['mode']}): {info['processor']}, {info['cpu_count']} CPUs, "
        f"Python {info['python']}, load {info['loadavg_at_start']}",
        file=sys.stderr,
    )
    workdir = Path(tempfile.mkdtemp(prefix="descope-bench-"))
    bench = Bench(args, workdir)
    signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(int(args.timeout))
    started = time.perf_counter()
    errors: dict[str, str] = {}
    try:
        for name in SCENARIOS:  # always in this order: "load" reuses what "no_change" measured
            if name not in only:
                continue
            scenario: Callable[[], None] = getattr(bench, name)
            try:
                scenario()
            except BenchTimeout as exc:
                errors[name] = str(exc)
                print(f"[{name}] FAILED: {exc}", file=sys.stderr)
                if "whole run" in str(exc):
                    break
            except Exception as exc:
                errors[name] = f"{type(exc).__name__}: {exc}"
                print(f"[{name}] FAILED: {type(exc).__name__}: {exc}", file=sys.stderr)
    finally:
        signal.alarm(0)
        bench.processes.stop_all()
        if args.keep:
            print(f"work directory kept: {workdir}", file=sys.stderr)
        else:
            import shutil

            shutil.rmtree(workdir, ignore_errors=True)
    info["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    info["duration_s"] = round(time.perf_counter() - started, 1)
    print(bench.table())
    if errors:
        print("\nscenarios that failed: " + "; ".join(f"{k}: {v}" for k, v in errors.items()))
    missed = [r.name for r in bench.rows if r.met is False]
    print(f"\n{sum(r.met is True for r in bench.rows)} targets met, {len(missed)} missed; {info['duration_s']} s")
    result = {"machine": info, "results": [asdict(r) for r in bench.rows], "errors": errors}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(f"JSON written to {args.out}")
    return 1 if errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
