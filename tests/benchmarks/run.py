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
6. ``floor``      issue 17's goals beside the floor, in one run (floor.py): the unchanged ``plan`` CLI at
                  100k (CPU, peak RSS), the idle cycle at 10k and 100k, a revision change at 100k, the
                  wall time of ``validate`` (--quick: 10k, not 100k). ``--only floor`` runs just these.

The sandbox runs as its own process (``descope-gitops sandbox``) so its CPU does not share the GIL
with the code measured; scenarios 1 and 2 run the real Reconciler in this process, built the way
``descope-gitops sync --apply`` builds it (compose.descope_client, state store, backups, journal);
scenarios 3 and 4 run the real ``descope-gitops run`` as a subprocess reading a Git repo over file://.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import signal
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

from controller.descope_api import API_RATE_LIMIT
from tests.benchmarks import harness
from tests.benchmarks.floor import FloorScenario, goals_table
from tests.benchmarks.harness import (
    MANAGEMENT_KEY,
    MAX_CONCURRENCY,
    PROJECT_ID,
    BenchTimeout,
    Processes,
    Row,
    Sandbox,
    live_record,
    machine_info,
    tenants_yaml,
)
from tests.benchmarks.writes import RATE, WriteScenarios, ideal_seconds

DEFAULT_OUT = Path(__file__).resolve().parent / "results.json"
SCENARIOS = ("no_change", "apply", "window", "resume", "webhook", "load", "floor")

PLAN_CPU_PER_100K = 1.0  # the target: planning 100k tenants takes well under a second of CPU
SETTINGS_TENANTS = 1_000


class Bench(WriteScenarios, FloorScenario):
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

    # ----- output -----------------------------------------------------------------------------------
    def table(self) -> str:
        headers = ("measurement", "value", "target", "met?")
        body = [(r.name, r.shown_value(), r.target, r.shown_met()) for r in self.rows]
        widths = [max(len(h), *(len(row[i]) for row in body)) if body else len(h) for i, h in enumerate(headers)]
        line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
        out = [line, "  ".join("-" * w for w in widths)]
        out += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in body]
        return "\n".join(out)


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
    floor_lines: list[dict[str, Any]] = []
    if "floor" in only:
        text, floor_lines = goals_table(bench.rows, getattr(bench, "floor_sizes", None))
        print(f"\nissue 17: the goals against the floor ({info['mode']} sizes)\n{text}")
    if errors:
        print("\nscenarios that failed: " + "; ".join(f"{k}: {v}" for k, v in errors.items()))
    missed = [r.name for r in bench.rows if r.met is False]
    print(f"\n{sum(r.met is True for r in bench.rows)} targets met, {len(missed)} missed; {info['duration_s']} s")
    result = {"machine": info, "results": [asdict(r) for r in bench.rows], "goals": floor_lines, "errors": errors}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(f"JSON written to {args.out}")
    return 1 if errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
