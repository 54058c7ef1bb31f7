"""Engine: runs cycles in order, owns time and logging, composes adapters from settings."""
