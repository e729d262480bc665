"""One error base: every exception the SDK and its plugins define is a `Tha4Error`, and `tha4` reports it once."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import click
import pytest
from click.testing import CliRunner

import tha4_plugins
import tha4_sdk
from tha4_sdk.cli import main
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


@pytest.mark.parametrize("error, message", [(PoseError("head_y must be in [-1, 1]"), "head_y must be in [-1, 1]"),
                                            (FileNotFoundError(2, "No such file", "x.npy"), "x.npy")])
def test_the_root_group_reports_an_error_of_any_command_in_one_line(error: Exception, message: str) -> None:
    @click.command("fails")
    def fails() -> None:
        raise error

    main.add_command(fails)
    try:
        result = CliRunner().invoke(main, ["fails"])
    finally:
        main.commands.pop("fails")
    assert result.exit_code == 1 and result.exception.__class__ is SystemExit
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
