"""Rendering: ansi text, rgb_array pictures, and `do1rl render FILE`."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from do1rl.cli import main
from do1rl.envs import make, render

SMALL = dict(n_inputs=3, depth=3, width=3)


@pytest.fixture(scope="module")
def episode():
    """The first and the terminal state of a DO1 episode that selects two gates of C."""
    env, params = make("DO1", chain_length=2, **SMALL)
    _, first = env.reset(jax.random.key(0), params)
    step = jax.jit(env.step)
    gates = [i for i in range(env.main_nodes) if int(first.node_type[i]) >= 3][:2]
    state = first
    for action in [*gates, *[env.noop_action] * int(first.horizon)]:
        _, state, *_ = step(jax.random.key(0), state, action, params)
    return jax.device_get(first), jax.device_get(state), gates


def test_ansi_marks_selected_and_hides_values_until_termination(episode):
    first, last, gates = episode
    text = render.ansi(first)
    assert "C:" in text and "chain:" in text and "depth  0:" in text
    gate_labels = [w for w in text.split() if ":AND(" in w or ":OR(" in w]
    assert gate_labels and not any(w.endswith(("=0", "=1")) for w in gate_labels)  # values hidden
    assert "[" not in text and "d1(C,x)" not in text
    done = render.ansi(last)
    for g in gates:
        assert f"[{g}:" in done
    assert "d1(C,x)=" in done and "return=" in done and "(removed)" in done
    assert all(w.strip("[]").endswith(("=0", "=1")) for w in done.split() if ":AND(" in w or ":OR(" in w)


def test_rgb_array_draws_selection_and_values(episode):
    first, last, _ = episode
    before, after = render.rgb_array(first), render.rgb_array(last)
    assert before.dtype == np.uint8 and before.ndim == 3 and before.shape[2] == 3
    red = lambda img: ((img[..., 0] > 200) & (img[..., 1] < 60) & (img[..., 2] < 60)).sum()
    assert red(before) == 0 and red(after) > 0  # selected gates are outlined in red


def test_render_command(tmp_path, capsys):
    assert main(["render", "examples/spec_example.json"]) == 0
    out = capsys.readouterr().out
    assert "d1(C,x)=2" in out and "4:AND(3,2)=1" in out
    for suffix in ("png", "svg"):
        path = tmp_path / f"c.{suffix}"
        assert main(["render", "examples/spec_example.json", "--out", str(path)]) == 0
        assert path.stat().st_size > 1000
    assert (tmp_path / "c.png").read_bytes()[:4] == b"\x89PNG"
    assert main(["render", "examples/spec_example.json", "--out", str(tmp_path / "c.gif")]) == 2
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "do1rl.circuit/v1", "inputs": [1], "gates": [{"op": "XOR", "in": [0]}]}')
    assert main(["render", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 2 and "bad.json" in err


@pytest.mark.parametrize("state", [None, 3, "state"])
def test_a_non_state_gets_one_line(state):
    with pytest.raises(TypeError, match="expected one env state") as err:
        render.ansi(state)
    assert "\n" not in str(err.value)


def test_a_batch_of_states_gets_one_line(episode):
    batch = jax.tree.map(lambda x: np.stack([x, x]), episode[0])
    with pytest.raises(TypeError, match="a batch of shape"):
        render.ansi(batch)
