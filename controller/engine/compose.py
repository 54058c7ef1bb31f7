"""The composition root: turns settings into the real objects (HTTP client, Descope client, stores).

Only this module reads settings to build adapters, so tests and commands can build the same
objects by hand with fakes or the sandbox instead.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
from loguru import logger

from controller import __version__
from controller.adapters.attribute_file import read_attribute_file
from controller.adapters.backup_store import BackupStore
from controller.adapters.descope import DescopeClient, base_url_for_project_id
from controller.adapters.local_source import is_tenants_change
from controller.adapters.source import LocalSource, Source
from controller.adapters.state_store import StateStore
from controller.adapters.store_lock import StoreLock
from controller.core.flapping import FlapPolicy
from controller.core.plan import PlanPolicy
from controller.descope_api import AttributeDefinition, parse_attribute_definitions
from controller.engine.apply import WriteHooks
from controller.engine.backups import apply_retention, take_snapshot
from controller.engine.config_cycle import SubResult
from controller.engine.cycle import CycleOptions, CyclePlan, CycleReport
from controller.engine.logs import register_secret
from controller.engine.reconciler import Reconciler
from controller.engine.signals import capture_signals, raise_interrupt
from controller.errors import DescopeGitopsError
from controller.settings import Settings

if TYPE_CHECKING:  # imported where used: `plan` and `sync` start without the daemon's server, scheduler, metrics
    from controller.adapters.http_server import HttpEndpoints
    from controller.adapters.metrics import Metrics
    from controller.engine.daemon import Daemon
    from controller.engine.health import DaemonHealth
    from controller.engine.observe import CycleObserver
    from controller.engine.restore_job import RestoreJob
    from controller.engine.wakeups import Wakeups


def descope_base_url(settings: Settings) -> str:
    return settings.descope.base_url or base_url_for_project_id(settings.descope.project_id)


@contextmanager
def descope_client(
    settings: Settings,
    *,
    on_request: Callable[[str, str, float], None] | None = None,
    stop: threading.Event | None = None,
) -> Iterator[DescopeClient]:
    """A DescopeClient over a pooled httpx.Client sized for the write concurrency; closed on exit.

    ``stop`` (the daemon's): once set, a request waiting for the rate limit is not sent (``ShuttingDown``).
    """
    settings.require_descope()
    key = settings.descope.management_key
    assert key is not None
    register_secret(key.get_secret_value())
    limits = httpx.Limits(max_connections=settings.descope.max_concurrency + 2)
    http = httpx.Client(
        timeout=httpx.Timeout(settings.descope.timeout),
        limits=limits,
        headers={"User-Agent": f"descope-gitops/{__version__}"},
        follow_redirects=False,
    )
    try:
        yield DescopeClient(
            http,
            project_id=settings.descope.project_id,
            management_key=key.get_secret_value(),
            base_url=descope_base_url(settings),
            # no headroom: the limiter counts from when answers are back, so Descope never sees more
            # than N arrivals in W seconds at exactly the limit (BENCHMARKS.md: no 429)
            rate_limit=settings.descope.rate_limit,
            max_retries=settings.descope.max_retries,
            on_request=on_request,
            on_notice=lambda message: logger.warning("{}", message),
            stop=stop,
        )
    finally:
        http.close()


def attribute_catalogue(settings: Settings) -> dict[str, AttributeDefinition] | None:
    """The project's custom attribute definitions from ``[descope] attributes_file`` or ``attributes``, if set."""
    if settings.descope.attributes_file is not None:
        return read_attribute_file(settings.descope.attributes_file)
    if settings.descope.attributes is not None:
        return parse_attribute_definitions(settings.descope.attributes)  # checked when settings were loaded
    return None


def local_source(path: str | Path) -> Source:
    return LocalSource(path)


def state_store(settings: Settings) -> StateStore:
    return StateStore(Path(settings.store.dir))


def backup_store(settings: Settings) -> BackupStore:
    return BackupStore(Path(settings.store.dir) / "backups")


def plan_policy(settings: Settings, *, allow_deletes: int = 0, prune: bool | None = None) -> PlanPolicy:
    return PlanPolicy(
        prune=settings.reconcile.prune if prune is None else prune,
        max_deletes=settings.reconcile.max_deletes,
        max_delete_ratio=settings.reconcile.max_delete_ratio,
        allow_deletes=allow_deletes,
        adopt=settings.reconcile.adopt,
    )


def flap_policy(settings: Settings) -> FlapPolicy:
    return FlapPolicy(reverts=settings.reconcile.flapping_reverts, window=settings.reconcile.flapping_window)


def source_from_settings(settings: Settings, *, on_fetch: Callable[[str], None] | None = None) -> Source:
    """The configured source: a local path, or a Git remote cached under the store directory."""
    if settings.source.kind == "local":
        return LocalSource(settings.source.path)
    from controller.adapters.git_source import GitSource

    token = settings.source.token.get_secret_value() if settings.source.token else None
    register_secret(token)
    source = GitSource(
        settings.source.url,
        ref=settings.source.ref,
        path=settings.source.path,
        cache_dir=Path(settings.store.dir) / "git-cache",
        token=token,
        ssh_key_file=settings.source.ssh_key_file,
        known_hosts_file=settings.source.known_hosts_file,
        insecure_accept_new_host_keys=settings.source.insecure_accept_new_host_keys,
        timeout=settings.source.timeout,
        on_fetch=on_fetch,
    )
    for secret in source.secrets:  # e.g. a token written into the URL itself
        register_secret(secret)
    return source


def watch_local(path: Path, *, store_dir: Path) -> Callable[[Callable[[str], None], threading.Event], None]:
    """A watcher thread body: a saved change to the tenants file(s) triggers a cycle at once.

    Only the tenants files count (``is_tenants_change``): the store, where every cycle writes, may
    live in the same folder (the default store dir is relative to the working directory), and a
    watcher that saw those writes would start cycle after cycle. A file is watched through its
    folder, not recursively. A burst of saves is one trigger (debounce); triggers that arrive during
    a cycle are coalesced by the daemon into at most one more cycle.
    """

    def watch(trigger: Callable[[str], None], stop: threading.Event) -> None:
        import watchfiles

        source = path.resolve()
        ignored = (store_dir.resolve(),)
        folder = source if source.is_dir() else source.parent
        for changes in watchfiles.watch(
            folder,
            watch_filter=lambda _change, changed: is_tenants_change(changed, source, ignored),
            recursive=source.is_dir(),
            stop_event=stop,
            debounce=500,
            raise_interrupt=False,
        ):
            names = sorted({Path(p).name for _, p in changes})
            trigger(f"file change: {', '.join(names[:5])}")

    return watch


def accepted_refs(settings: Settings) -> Callable[[str], bool]:
    ref = settings.source.ref
    followed = {ref, f"refs/heads/{ref}", f"refs/tags/{ref}"}
    return lambda pushed: settings.source.kind == "local" or pushed in followed


def daemon_options(settings: Settings) -> CycleOptions:
    return CycleOptions(
        apply=True,
        record=True,
        drift_policy=settings.reconcile.drift_policy,
        policy=plan_policy(settings),
        max_concurrency=settings.descope.max_concurrency,
        tenant_backoff=settings.source.interval,
        flapping=flap_policy(settings),
    )


@contextmanager
def daemon(settings: Settings) -> Iterator[Daemon]:
    """The daemon with every part built from settings; the HTTP client is closed on exit.

    One stop event reaches the daemon, the reconciler (no new action starts once it is set) and the
    snapshot job (stops between two reads); the HTTP endpoints read the daemon's health and post
    pushes to its wakeups, so they are built before it and need nothing of it.
    """
    from controller.adapters.metrics import Metrics
    from controller.engine.daemon import Daemon, DaemonConfig
    from controller.engine.health import DaemonHealth
    from controller.engine.observe import CycleObserver
    from controller.engine.wakeups import Wakeups

    store = state_store(settings)
    metrics = Metrics(restores_log=restores_log(settings), restore_drills_log=restore_drills_log(settings))
    metrics.interval.set(settings.source.interval)
    metrics.report_policy.set(1 if settings.reconcile.drift_policy == "report" else 0)
    observer = CycleObserver(metrics)
    source = source_from_settings(settings, on_fetch=metrics.on_fetch)
    _warn_insecure_host_keys(source)
    backups = backup_store(settings)
    _seed_metrics(observer, store, backups)
    stop = threading.Event()
    lock = StoreLock(Path(settings.store.dir), purpose="descope-gitops run")
    health = DaemonHealth(lock, interval=settings.source.interval, stale_after=settings.reconcile.stale_after)
    wakeups = Wakeups()
    with descope_client(settings, on_request=metrics.on_request, stop=stop) as client:
        reconciler = Reconciler(
            source,
            client,
            store,
            backups=backups,
            on_backup=metrics.on_backup,
            attributes=attribute_catalogue(settings),
            should_stop=stop.is_set,
        )

        def snapshot() -> None:
            try:
                state = store.load(keep_aside=False)
                meta = take_snapshot(
                    client,
                    backups,
                    settings_by_id=state.applied_settings,
                    should_stop=stop.is_set,
                    inventory=state.config_inventory,
                )
            except Exception:
                metrics.on_backup("snapshot", False)
                raise
            if meta is None:
                return  # shutting down: abandoned, not failed
            metrics.on_backup("snapshot", True, meta.taken_at)
            apply_retention(
                backups, max_age_days=settings.backups.retention_days, keep_snapshots=settings.backups.keep_snapshots
            )
            metrics.store_usage(*backups.usage())

        def on_cycle(report: CycleReport) -> None:
            observer(report)
            if report.applied is not None and report.applied.results:
                metrics.store_usage(*backups.usage())

        yield Daemon(
            reconciler,
            store,
            lock,
            daemon_options(settings),
            config=DaemonConfig(
                interval=settings.source.interval,
                shutdown_timeout=settings.reconcile.shutdown_timeout,
                settings_refresh_interval=settings.reconcile.settings_refresh_interval,
            ),
            stop=stop,
            health=health,
            wakeups=wakeups,
            services=[_http_endpoints(settings, health, wakeups, metrics), _LicenseNote(client)],
            jobs=[("snapshot", snapshot, settings.backups.snapshot_interval, _first_snapshot_delay(settings, backups))],
            on_cycle=on_cycle,
            watcher=(
                watch_local(Path(settings.source.path), store_dir=Path(settings.store.dir))
                if settings.source.kind == "local"
                else None
            ),
        )


def _warn_insecure_host_keys(source: Source) -> None:
    if getattr(source, "insecure_host_keys", False):  # said at every start, for as long as it is set
        logger.warning(
            "[source] insecure_accept_new_host_keys is set: ssh trusts whatever host key the server of {} "
            "presents first, so a man-in-the-middle on that connection would serve tenants.yaml and through it "
            "the Descope tenants; set known_hosts_file instead",
            getattr(source, "url", "the git source"),
        )


class _Served:
    """The HTTP endpoints as a daemon service: the port is bound only at start (once the store lock is held)."""

    def __init__(self, make: Callable[[], HttpEndpoints]) -> None:
        self.make = make
        self.http: HttpEndpoints | None = None

    def start(self) -> None:
        self.http = self.make().start()
        logger.info("serving /healthz /readyz /hooks/git on {}", self.http.url)

    def stop(self) -> None:
        if self.http is not None:
            self.http.stop()


class _LicenseNote:
    """At start, once the store is locked and usable: Descope's rate-limit tier, beside the client's limit.

    As the SDKs do at start (the tier is then sent as x-descope-license); the tier says which ``rate_limit``
    fits. One attempt in a thread of its own, so an unreachable Descope never delays the first cycle.
    """

    def __init__(self, client: DescopeClient) -> None:
        self.client = client

    def start(self) -> None:
        threading.Thread(target=self._note, name="license", daemon=True).start()

    def _note(self) -> None:
        tier = self.client.license_tier()
        logger.info("Descope rate-limit tier: {}; client rate_limit {}", tier or "unknown", self.client.limiter.limit)

    def stop(self) -> None:
        pass


def _http_endpoints(settings: Settings, health: DaemonHealth, wakeups: Wakeups, metrics: Metrics) -> _Served:
    from controller.adapters.http_server import HttpEndpoints, HttpLimits

    secret = settings.http.webhook_secret.get_secret_value() if settings.http.webhook_secret else None
    secret = secret or None  # an empty secret would let anyone sign: treat it as "webhook off"
    register_secret(secret)
    return _Served(
        lambda: HttpEndpoints(
            listen=settings.http.listen,
            liveness=health.liveness,
            readiness=health.readiness,
            on_push=wakeups.push,
            webhook_secret=secret,
            metrics_app=metrics.wsgi_app(),
            accepted_refs=accepted_refs(settings),
            log=lambda line: logger.warning("{}", line),
            limits=HttpLimits(
                backlog=settings.http.backlog,
                max_connections=settings.http.max_connections,
                request_timeout=settings.http.request_timeout,
            ),
            on_webhook=metrics.on_webhook,
            on_deadline=metrics.on_http_deadline,
        )
    )


@dataclass(frozen=True)
class OneShotSync:
    """``plan`` or ``sync --apply``, ready to run: the reconciler and the options, the lock held when applying."""

    reconciler: Reconciler
    options: CycleOptions

    def run(self) -> CycleReport:
        """One cycle; SIGTERM ends it like Ctrl-C (every finished action is journaled, the next run resumes)."""
        with capture_signals({signal.SIGTERM: raise_interrupt}):
            return self.reconciler.run_cycle(self.options)


@contextmanager
def one_shot_sync(
    settings: Settings,
    tenants: Path,
    *,
    apply: bool,
    allow_deletes: int = 0,
    prune: bool | None = None,
    hooks: WriteHooks | None = None,
    on_plan: Callable[[CyclePlan], None] = lambda _plan: None,
    on_sub_result: Callable[[SubResult], None] | None = None,
) -> Iterator[OneShotSync]:
    """A one-shot cycle over the tenants file(s) at ``tenants``; the store lock is held while applying."""
    store = state_store(settings)
    options = CycleOptions(
        apply=apply,
        drift_policy=settings.reconcile.drift_policy,
        policy=plan_policy(settings, allow_deletes=allow_deletes, prune=prune),
        max_concurrency=settings.descope.max_concurrency,
        flapping=flap_policy(settings),
        resumed_at=_resumed_at(store) if apply else None,
    )
    with ExitStack() as stack:
        if apply:
            stack.enter_context(StoreLock(Path(settings.store.dir), purpose="descope-gitops sync --apply"))
        client = stack.enter_context(descope_client(settings))
        reconciler = Reconciler(
            local_source(tenants),
            client,
            store,
            backups=backup_store(settings) if apply else None,
            hooks=hooks,
            attributes=attribute_catalogue(settings),
            on_plan=on_plan,
            remember_items=False,
        )
        if on_sub_result is not None:  # each finished role, SSO or password policy write
            reconciler.config.on_result = on_sub_result
        yield OneShotSync(reconciler, options)


def _resumed_at(store: StateStore) -> float | None:
    """When ``resume`` last ran (it releases flapping tenants held before it); None if unknown."""
    try:
        flag = store.suspend_flag()
    except DescopeGitopsError:
        return None
    return None if flag.suspended else flag.since


@contextmanager
def restorer(settings: Settings) -> Iterator[RestoreJob]:
    """On-call's restore, ready: stores, the enforced source and a Descope client opened on first use."""
    from controller.engine.restore_job import RestoreJob

    with ExitStack() as stack:
        opened: list[DescopeClient] = []
        sources: list[Source] = []

        def client() -> DescopeClient:
            if not opened:
                opened.append(stack.enter_context(descope_client(settings)))
            return opened[0]

        def source() -> Source:
            if not sources:
                sources.append(source_from_settings(settings))
            return sources[0]

        yield RestoreJob(
            backups=backup_store(settings),
            state_store=state_store(settings),
            restores_log=restores_log(settings),
            retention_days=settings.backups.retention_days,
            max_concurrency=settings.descope.max_concurrency,
            source=source,
            client=client,
        )


def _first_snapshot_delay(settings: Settings, backups: BackupStore) -> float:
    """Continue the snapshot schedule across restarts instead of snapshotting after every start."""
    import time

    try:
        snapshots = backups.scan(kind="snapshot")[0]
    except DescopeGitopsError:
        snapshots = []
    if not snapshots:
        return 60.0  # a first snapshot soon after the first cycle
    age = time.time() - max(m.taken_at for m in snapshots)
    return max(60.0, settings.backups.snapshot_interval - age)


def restores_log(settings: Settings) -> Path:
    return Path(settings.store.dir) / "restores.jsonl"


def restore_drills_log(settings: Settings) -> Path:
    """One line per restore drill (``backup verify --restore-drill``); /metrics reports the last one."""
    return Path(settings.store.dir) / "restore-drills.jsonl"


def _seed_metrics(observer: CycleObserver, store: StateStore, backups: BackupStore) -> None:
    """Timestamps survive restarts: read them back from the stores (best effort, never fatal)."""
    try:
        observer.restore(store.load(keep_aside=False))
    except DescopeGitopsError as exc:
        logger.warning("metrics start without history: {}", exc)
    try:
        metas, _problems = backups.scan()
        for kind in ("pre-image", "snapshot"):
            times = [m.taken_at for m in metas if m.kind == kind]
            if times:
                observer.metrics.backup_last_success.labels(kind=kind).set(max(times))
        observer.metrics.store_usage(*backups.usage())
    except DescopeGitopsError as exc:
        logger.warning("backup metrics start empty: {}", exc)
