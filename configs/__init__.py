"""The shipped YAML configs, as package data: `do1rl config list`, `do1rl train --config NAME`."""
