"""The `byrote` command line: one module per group of commands."""
