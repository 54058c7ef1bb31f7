"""Adapters: the only modules that talk to Descope, Git, the disk and Prometheus."""
