"""Subcommands of `facegate` that manage people and keys (each module registers its parsers)."""
