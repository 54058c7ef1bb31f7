"""Benchmarks of the controller against the sandbox: ``python -m tests.benchmarks.run`` (see BENCHMARKS.md).

Nothing here is collected by ``pytest``: the files are named ``run.py`` / ``harness.py``, not ``test_*.py``.
"""
