"""Why one-process runs keep msgpack checkpoints: msgpack vs orbax on one process, side by side in one run.

    python scripts/checkpoint_formats.py [--config ppo_do1_small] [--rounds 20]

Builds the shipped config's trainer, initialises its state, and alternates
`RunCheckpoints.save` / `restore` in the two formats (msgpack: the one-process
format; orbax: the multi-process one, here on one process) for `--rounds`
rounds, printing the median seconds per save and per restore and whether two
saves of the same state give the same bytes (what the byte-identical resume
tests compare). Numbers depend on the machine; rerun them there.
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import tempfile
import time
from pathlib import Path

import jax

from do1rl.experiments import config as config_lib
from do1rl.experiments.global_checkpoint import MSGPACK, ORBAX, RunCheckpoints
from do1rl.experiments.shipped import find_config
from do1rl.experiments.train_config import TrainConfig
from do1rl.experiments.trainer import Trainer, seed_keys


def digest(folder: Path) -> str:
    """SHA-256 over every file's relative path and bytes under `folder`."""
    h = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and p.name != ".lock"):
        h.update(str(path.relative_to(folder)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="ppo_do1_small", help="a shipped config name or a YAML path")
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args(argv)
    config = config_lib.load(TrainConfig, find_config(args.config))
    trainer = Trainer(config)
    state = trainer.init(seed_keys(config))
    # A one-device trainer has no shardings; orbax restores onto explicit ones (here, the one device).
    device = jax.sharding.SingleDeviceSharding(jax.devices()[0])
    trainer.shardings = jax.tree.map(lambda _: device, trainer.state_shape)
    times: dict[str, dict[str, list[float]]] = {f: {"save": [], "restore": []} for f in (MSGPACK, ORBAX)}
    same_bytes = {}
    with tempfile.TemporaryDirectory() as tmp:
        runs = {f: RunCheckpoints(Path(tmp) / f, trainer, f) for f in (MSGPACK, ORBAX)}
        for run in runs.values():
            run.run_dir.mkdir()
            run.save(state, {"update": 0})  # warm-up (imports, first compile of the restore shapes)
            run.restore(config)
        for i in range(1, args.rounds + 1):
            for fmt, run in runs.items():
                t0 = time.perf_counter()
                run.save(state, {"update": i})
                times[fmt]["save"].append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                run.restore(config)
                times[fmt]["restore"].append(time.perf_counter() - t0)
        for fmt in (MSGPACK, ORBAX):  # the same state saved twice, in two fresh folders
            digests = []
            for copy in ("a", "b"):
                run = RunCheckpoints(Path(tmp) / f"{fmt}-{copy}", trainer, fmt)
                run.run_dir.mkdir()
                run.save(state, {"update": 1})
                digests.append(digest(run.run_dir / "checkpoints"))
            same_bytes[fmt] = digests[0] == digests[1]
    print(f"config {args.config}, {args.rounds} rounds, one process")
    print("| format | save (median s) | restore (median s) | same bytes for the same state |")
    print("|---|---|---|---|")
    for fmt in (MSGPACK, ORBAX):
        save, restore = statistics.median(times[fmt]["save"]), statistics.median(times[fmt]["restore"])
        print(f"| {fmt} | {save:.4f} | {restore:.4f} | {same_bytes[fmt]} |")
    ratio = statistics.median(times[ORBAX]["save"]) / statistics.median(times[MSGPACK]["save"])
    print(f"orbax / msgpack save time: {ratio:.1f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
