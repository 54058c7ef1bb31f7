"""One module per group of commands, each with its parsers (``add_parser``) beside its handlers."""
