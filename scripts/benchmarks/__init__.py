"""do1rl benchmarks: solver, environment, training, MCTS and compile time, against targets.

    python scripts/bench.py                  # full sizes, writes docs/benchmarks.{json,md}
    python scripts/bench.py --smoke          # tiny sizes; what CI runs (writes nothing)
    python scripts/bench.py --parts solver   # one area alone, printed only
    cd scripts && python -m benchmarks       # the same, as a package

One module per area: `solver` (part 1), `env` (part 2), `training` and
`peers` (part 3: PPO per network family; SB3 and rejax side by side, each
optional and recorded as skipped when not installed), `mcts` (part 4),
`compile_time` (part 5). `harness` times (median, min and max of --repeats
runs after a warm-up; compile times are single measurements) and records
the machine; `notes` holds the targets and the report's fixed text;
`report` writes docs/benchmarks.{json,md}; `cli` runs it all.
"""
