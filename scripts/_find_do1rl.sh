# Sourced by the reproduce scripts: DO1RL (the command; set it to override) and PYTHON (the interpreter beside it).
if [[ -z "${DO1RL:-}" ]]; then
  if [[ -x .venv/bin/do1rl ]]; then DO1RL=.venv/bin/do1rl; else DO1RL=do1rl; fi
fi
PYTHON="$(dirname "$(command -v "$DO1RL")")/python"
[[ -x "$PYTHON" ]] || PYTHON=python3
