"""The `assistant` command, through click's runner; every command has help and is in the README."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from assistant.cli import main
from assistant.settings import PROJECT_ROOT


def test_every_command_has_help_with_an_example_and_is_in_the_readme() -> None:
    readme = (PROJECT_ROOT / "README.md").read_text()
    for name in main.commands:
        result = CliRunner().invoke(main, [name, "--help"])
        assert result.exit_code == 0 and "Example:" in result.output, name
        assert f"assistant {name}" in readme, name


@pytest.mark.slow
def test_ask_json(seeds) -> None:
    result = CliRunner().invoke(main, ["ask", "why does the author think the split will backfire?", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["citations"] and data["citations"][0]["source"] == "seeds/000_b8aa54d3edd41c2c.txt"


@pytest.mark.slow
def test_index_json_then_up_to_date(seeds) -> None:
    runner = CliRunner()
    first = json.loads(runner.invoke(main, ["index", "--json"]).output)
    second = json.loads(runner.invoke(main, ["index", "--json"]).output)
    assert first["action"] == "built" and second["action"] == "up to date"


def test_expected_errors_are_one_line_without_traceback(seeds) -> None:
    result = CliRunner().invoke(main, ["ask", "   "])
    assert result.exit_code == 1
    assert "Error: The question is empty" in result.output and "Traceback" not in result.output
