"""One error base: every exception the SDK and its plugins define is a `Tha4Error`, and `tha4` reports it once;
library code guards nothing with `assert`."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

import tha4_plugins
import tha4_sdk
from tha4_sdk.cli import main
from tha4_sdk.distill.trainer import Stopped
from tha4_sdk.errors import Tha4Error
from tha4_sdk.pose import PoseError


def _defined_exceptions() -> list[type[BaseException]]:
    found = []
    for package in (tha4_sdk, tha4_plugins):
        for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            if info.name.endswith("__main__"):
                continue
            try:
                module = importlib.import_module(info.name)
            except ImportError:  # an optional extra that is not installed (its plugin is listed as broken)
                continue
            found += [obj for _, obj in inspect.getmembers(module, inspect.isclass)
                      if issubclass(obj, BaseException) and obj.__module__ == module.__name__]
    return found


def test_every_exception_class_derives_from_tha4error() -> None:
    classes = _defined_exceptions()
    assert len(classes) >= 20  # the walk did find the packages' errors
    assert [c.__qualname__ for c in classes if not issubclass(c, Tha4Error)] == []


def test_library_code_has_no_assert() -> None:
    """``python -O`` drops asserts: a check in the SDK or its plugins raises a clear error instead."""
    roots = [Path(package.__path__[0]) for package in (tha4_sdk, tha4_plugins)]
    files = {path: f"{path.relative_to(root.parent)}" for root in roots for path in sorted(root.rglob("*.py"))}
    assert len(files) > 100  # the walk did find the packages' sources
    found = [f"{name}:{node.lineno}" for path, name in files.items()
             for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))) if isinstance(node, ast.Assert)]
    assert found == []


@pytest.mark.parametrize("error, message, status", [
    (PoseError("head_y must be in [-1, 1]"), "head_y must be in [-1, 1]", 1),
    (FileNotFoundError(2, "No such file", "x.npy"), "x.npy", 1),
    (Stopped(Path("out/distill/checkpoint.pt")), "stopped on request; checkpoint at out/distill/checkpoint.pt", 75),
])
def test_the_root_group_reports_an_error_of_any_command_in_one_line(error: Exception, message: str,
                                                                     status: int) -> None:
    @click.command("fails")
    def fails() -> None:
        raise error

    main.add_command(fails)
    try:
        result = CliRunner().invoke(main, ["fails"])
    finally:
        main.commands.pop("fails")
    assert result.exit_code == status and result.exception.__class__ is SystemExit
    assert result.output.startswith("Error: ") and message in result.output and "Traceback" not in result.output


def test_other_exceptions_are_not_hidden() -> None:
    @click.command("bug")
    def bug() -> None:
        raise KeyError("a bug")

    main.add_command(bug)
    try:
        result = CliRunner().invoke(main, ["bug"])
    finally:
        main.commands.pop("bug")
    assert isinstance(result.exception, KeyError)


def test_the_command_line_writes_the_parameters_a_message_names_as_its_own_flags() -> None:
    """Library messages name parameters (``fast=True``); `tha4` shows the flags of the command that ran,
    its group's subcommands included, and leaves names it has no flag for as they are."""
    @click.group("grp")
    def grp() -> None:
        pass

    @grp.command("leaf")
    @click.option("--fast/--no-fast", default=False)
    @click.option("--from", "from_dir")
    @click.option("--trust-unpinned", is_flag=True)
    def leaf(fast: bool, from_dir: str | None, trust_unpinned: bool) -> None:
        raise Tha4Error("not with fast=True; try fast=False, from_dir=DIR or trust_unpinned=True "
                        "(device='cpu' and x.fast=True stay)")

    main.add_command(grp)
    try:
        result = CliRunner().invoke(main, ["grp", "leaf"])
    finally:
        main.commands.pop("grp")
    assert result.exit_code == 1, result.output
    assert result.output == ("Error: not with --fast; try --no-fast, --from DIR or --trust-unpinned "
                             "(device='cpu' and x.fast=True stay)\n")
