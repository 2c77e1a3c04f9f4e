"""The shipped example circuit files (docs/spec.md), as package data: `do1rl.experiments.shipped.example_circuits`."""
