"""Runs every Python block of docs/user-guide.md (blocks starting `# needs: LIB` skip without LIB)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # the slow lane (docs/testing.md)

GUIDE = Path(__file__).resolve().parents[1] / "docs" / "user-guide.md"
BLOCKS = re.findall(r"^```python\n(.*?)^```", GUIDE.read_text(), flags=re.S | re.M)


def test_guide_has_blocks():
    assert len(BLOCKS) >= 8


@pytest.mark.parametrize("code", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_block_runs(code, tmp_path, monkeypatch):
    needs = re.match(r"# needs: (\w+)", code)
    if needs:
        pytest.importorskip(needs.group(1))
    monkeypatch.chdir(tmp_path)
    exec(compile(code, f"{GUIDE.name}", "exec"), {"__name__": "__guide__"})
