"""Pure core: tenant model, tenants.yaml parsing, normalisation and planning; no I/O."""
