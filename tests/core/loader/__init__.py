"""Table-driven tests of tenants.yaml loading: what a user sees (message and line) for every rule.

Each problem case is a plain YAML string with the exact (line, message fragment) pairs expected and
nothing else, run on both libyaml's parser and PyYAML's pure-Python one. Hostile inputs must be
refused quickly with a clear message; a property test round-trips generated valid tenants.
"""
