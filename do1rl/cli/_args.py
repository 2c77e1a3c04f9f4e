"""Argument types shared by the subcommands: bounded integers and finite floats (one rule each)."""

from __future__ import annotations

import argparse
import math
import re

from do1rl.core import limits

_INT = re.compile(r"[-+]?\d{1,30}")


def int_in(minimum: int, maximum: int):
    """An argparse type: an integer in [minimum, maximum], written in decimal digits."""

    def parse(text: str) -> int:
        text = text.strip()
        value = int(text) if _INT.fullmatch(text) else None
        if value is None or not minimum <= value <= maximum:
            raise argparse.ArgumentTypeError(f"expected an integer in {minimum}..{maximum}, got {limits.show(text, 40)}")
        return value

    parse.__name__ = "integer"
    return parse


def finite_float(minimum: float = -math.inf, maximum: float = math.inf):
    """An argparse type: a finite number in [minimum, maximum] (no nan, no inf)."""

    def parse(text: str) -> float:
        try:
            value = float(text) if len(text) <= 100 else math.nan
        except ValueError:
            value = math.nan
        try:
            return limits.check_float(value, "value", minimum, maximum)
        except limits.InputError:
            lo = "" if minimum == -math.inf else f" >= {minimum:g}"
            hi = "" if maximum == math.inf else f" <= {maximum:g}"
            raise argparse.ArgumentTypeError(
                f"expected a finite number{lo}{' and' if lo and hi else ''}{hi}, got {limits.show(text, 40)}"
            ) from None

    parse.__name__ = "number"
    return parse


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line on stderr (exit 2)."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {limits.cut(message, 300)} (see {self.prog} --help)\n")
