"""Two processes on one backup store: a prune never races a backup being written."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from controller.adapters.backup_store import BackupStore
from tests.e2e.conftest import wait_until

pytestmark = [pytest.mark.chaos, pytest.mark.e2e]

# A snapshot writer that stops half-way through writing its file (the temp file exists, it is not
# yet renamed into place) until the test lets it go: a daemon's snapshot job caught mid-write.
SLOW_SNAPSHOT = """
import os, sys, time
from pathlib import Path
from controller.adapters.backup_store import BackupStore

backups, ready, go = (Path(a) for a in sys.argv[1:4])
real_fsync = os.fsync

def fsync(fd):
    if not ready.exists():  # the first fsync is the new backup's temp file, fully written
        ready.touch()
        while not go.exists():
            time.sleep(0.01)
    real_fsync(fd)

os.fsync = fsync
meta = BackupStore(backups).save_snapshot([{"id": "acme", "name": "ACME Corp v2"}], operation="manual")
print(meta.id)
"""


def test_a_prune_waits_for_a_snapshot_being_written_then_keeps_only_the_newest(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    store = Path(cli_env["DESCOPE_GITOPS_STORE__DIR"])
    backups = store / "backups"
    older = BackupStore(backups, clock=lambda: time.time() - 3600).save_snapshot([{"id": "acme", "name": "ACME Corp"}])
    ready, go = tmp_path / "writer-ready", tmp_path / "writer-go"
    writer = subprocess.Popen(
        [sys.executable, "-c", SLOW_SNAPSHOT, str(backups), str(ready), str(go)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    prune: subprocess.Popen[str] | None = None
    try:
        wait_until(ready.exists, timeout=30, what="the writer to be mid-write")
        prune = subprocess.Popen(
            [sys.executable, "-m", "controller", "backup", "prune"],
            env={**cli_env, "DESCOPE_GITOPS_BACKUPS__KEEP_SNAPSHOTS": "1"},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        time.sleep(2.0)  # time enough for a prune that does not wait to list, decide and finish
        go.touch()
        written, writer_err = writer.communicate(timeout=30)
        pruned, prune_err = prune.communicate(timeout=60)
    finally:
        go.touch()
        for proc in (writer, prune):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()

    assert writer.returncode == 0, writer_err
    assert prune is not None and prune.returncode == 0, prune_err
    newer = written.strip()
    # the prune saw the settled store: the new snapshot, which makes the older one redundant
    assert f"removed {older.id} (snapshot" in pruned, pruned
    assert sorted(p.stem for p in (backups / "snapshots").glob("*.json")) == [newer]
