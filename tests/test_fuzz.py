"""Fuzzing the input surfaces: circuit files, configs and command-line numbers.

Every hostile input must give exit 2 (or the module's one error type) with one line, no traceback,
in bounded time. Brief in CI; run longer with e.g. `DO1RL_FUZZ_EXAMPLES=2000 pytest tests/test_fuzz.py`.
"""

from __future__ import annotations

import json
import os
import time

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from do1rl import cli
from do1rl.core import circuit_file
from do1rl.envs.make import EnvArgumentError, make
from do1rl.experiments import config as config_lib
from do1rl.experiments.train_config import TrainConfig

EXAMPLES = int(os.environ.get("DO1RL_FUZZ_EXAMPLES", "40"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,  # time is asserted per call below, with a margin for a loaded machine
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
SECONDS = 5.0  # bound on one rejected input

FMT = circuit_file.FORMAT

# Hostile scalars: huge and deep numbers, non-finite floats, odd strings.
weird_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from([2**63, -(2**63) - 1, 10**30, 10**4299]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.just("9" * 4000),
)
json_values = st.recursive(
    weird_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
    max_leaves=20,
)


def _one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


# ---------------------------------------------------------------------------
# Circuit files.


@st.composite
def mutated_circuits(draw):
    """A valid circuit with one part replaced by a hostile value."""
    obj = {"format": FMT, "inputs": [1, 0, 1], "gates": [{"op": "OR", "in": [0, 1]}, {"op": "AND", "in": [3, 2]}]}
    where = draw(st.sampled_from(["format", "inputs", "gates", "input", "op", "in", "src", "extra"]))
    value = draw(json_values)
    if where in ("format", "inputs", "gates"):
        obj[where] = value
    elif where == "input":
        obj["inputs"][draw(st.integers(0, 2))] = value
    elif where in ("op", "in"):
        obj["gates"][draw(st.integers(0, 1))][where] = value
    elif where == "src":
        obj["gates"][1]["in"][draw(st.integers(0, 1))] = value
    else:
        obj[draw(st.text(max_size=5))] = value
    return obj


def _dump(obj) -> bytes:
    try:
        return json.dumps(obj, allow_nan=True).encode()
    except ValueError:  # e.g. a float that json cannot spell: keep the raw text
        return repr(obj).encode()


@FUZZ
@given(data=st.one_of(mutated_circuits().map(_dump), json_values.map(_dump), st.binary(max_size=200)))
def test_fuzz_circuit_text(data):
    start = time.perf_counter()
    try:
        parsed = circuit_file.loads(data, "fuzz.json")
    except circuit_file.CircuitFileError as err:
        assert "\n" not in str(err) and len(str(err)) < 400 and err.rule in circuit_file.RULES
    else:
        assert parsed.num_inputs >= 1 and parsed.num_gates >= 1
    assert time.perf_counter() - start < SECONDS


@FUZZ
@given(obj=mutated_circuits())
def test_fuzz_solve_cli(tmp_path_factory, obj):
    text = _dump(obj)
    try:
        circuit_file.loads(text)
    except circuit_file.CircuitFileError:
        pass
    else:
        assume(False)  # a valid file would be solved (a compile): not what this test is for
    path = tmp_path_factory.mktemp("fuzz") / "c.json"
    path.write_bytes(text)
    import contextlib
    import io

    err = io.StringIO()
    start = time.perf_counter()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        assert cli.main(["solve", str(path)]) == 2
    assert time.perf_counter() - start < SECONDS
    assert _one_line(err.getvalue()).startswith(f"error: {path}: ")


# ---------------------------------------------------------------------------
# Configs: files and overrides.

KEYS = config_lib.valid_keys(TrainConfig)
yaml_values = st.one_of(
    st.sampled_from(
        [
            "1",
            "-1",
            "0",
            "1e-3",
            ".nan",
            ".inf",
            "-.inf",
            "1e999",
            "9" * 5000,
            str(2**64),
            "true",
            "null",
            "[]",
            "[1, 2]",
            "{a: 1}",
            "{}",
            "'x'",
            "!!python/object:os.system x",
            "&a [*a]",
            "[&b [1, 1], [*b, *b]]",
            "'" + "x" * 5000 + "'",
        ]
    ),
    st.text(max_size=30),
)


@FUZZ
@given(pairs=st.lists(st.tuples(st.sampled_from(KEYS + ["bogus", "env.args.depth", "env.args.circuit_files"]), yaml_values), max_size=4))
def test_fuzz_config_overrides(pairs):
    overrides = [f"{k}={v}" for k, v in pairs]
    start = time.perf_counter()
    try:
        config = config_lib.load(TrainConfig, None, overrides)
        make(config.env.id, **config.env.args)  # the env options are checked where they are used
    except (config_lib.ConfigError, EnvArgumentError, circuit_file.CircuitFileError, ValueError) as err:
        message = str(err)
        assert "\n" not in message and len(message) < 600, message
    assert time.perf_counter() - start < SECONDS


@FUZZ
@given(
    body=st.lists(st.tuples(st.sampled_from(KEYS[:6] + ["bogus"]), yaml_values), min_size=1, max_size=3).map(
        lambda pairs: "".join(f"{k.split('.')[0]}: {v}\n" for k, v in pairs)
    )
    | st.binary(max_size=100).map(lambda b: b.decode("latin-1"))
)
def test_fuzz_config_file_cli(tmp_path_factory, body):
    folder = tmp_path_factory.mktemp("cfg")
    path = folder / "c.yaml"
    path.write_bytes(body.encode("utf-8", "surrogateescape"))
    try:
        config_lib.load(TrainConfig, path)
    except config_lib.ConfigError:
        pass
    else:
        assume(False)  # a valid config would start training
    import contextlib
    import io

    err = io.StringIO()
    start = time.perf_counter()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        assert cli.main(["train", "--config", str(path), "--out", str(folder / "run"), "--no-progress"]) == 2
    assert time.perf_counter() - start < SECONDS
    _one_line(err.getvalue())
    assert not (folder / "run").exists()


# ---------------------------------------------------------------------------
# Command-line numbers: parsed into bounded values, or one line and exit 2.

NUMERIC = [
    "--episodes",
    "--seed",
    "--devices",
    "--seed-index",
    "--simulations",
    "--max-considered",
    "--gumbel-scale",
    "--max-regret",
    "--min-ratio",
    "--max-mean-regret",
    "--min-mean-ratio",
]
numbers = st.one_of(
    st.integers().map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.sampled_from(["nan", "inf", "-inf", "1e20", "1" + "0" * 20, "9" * 5000, "", " ", "0x10", "1_000", "-0"]),
    st.text(max_size=10),
)


@FUZZ
@given(option=st.sampled_from(NUMERIC), value=numbers)
def test_fuzz_eval_numbers(capsys, option, value):
    import math

    parser = cli.build_parser()
    try:
        args = parser.parse_args(["eval", option, value])
    except SystemExit as exit:
        assert exit.code == 2
        line = _one_line(capsys.readouterr().err)
        assert option in line and len(line) < 400
        return
    parsed = getattr(args, option[2:].replace("-", "_"))
    assert math.isfinite(parsed)
    if isinstance(parsed, int):
        assert abs(parsed) < 2**63
