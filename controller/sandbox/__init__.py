"""A Descope-compatible tenant API server on loopback for demos, tests and benchmarks."""
