"""Click parameter types that commands in several packages share (outside `tha4_sdk.cli`, whose import registers
every command: a benchmark importing from there would import itself)."""

from __future__ import annotations

from typing import Any

import click

from tha4_sdk.distill.budget import BudgetError, parse_duration


class Duration(click.ParamType):
    """A duration (`tha4_sdk.distill.budget.parse_duration`) as seconds."""

    name = "duration"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        try:
            return value if isinstance(value, float) else parse_duration(str(value))
        except BudgetError as e:
            self.fail(str(e), param, ctx)


DURATION = Duration()
