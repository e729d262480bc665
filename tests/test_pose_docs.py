"""docs/pose_parameters.md shows the current parameter table (the docs cannot drift)."""

from click.testing import CliRunner

from tha4_sdk.cli import main

from conftest import REPO


def test_pose_parameter_docs_match_the_code():
    table = CliRunner().invoke(main, ["pose-params", "--markdown"]).output
    assert table.count("\n") == 47
    assert table in (REPO / "docs" / "pose_parameters.md").read_text()
