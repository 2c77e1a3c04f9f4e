"""Subcommands of the `do1rl` command line.

Each module exposes `add_arguments(parser)` and `run(args) -> int` (the exit
status). Modules import heavy dependencies (jax) inside `run`, so building
the parser stays cheap.
"""
