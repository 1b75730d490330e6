import subprocess
import sys

import pytest

from mimeia.cli import main


@pytest.mark.parametrize("args", [["--help"], ["up", "--help"], ["doctor", "--help"]])
def test_help_exits_cleanly(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(args)
    assert exc.value.code == 0
    assert "usage: mimeia" in capsys.readouterr().out


def test_console_script_is_installed() -> None:
    out = subprocess.run([sys.executable, "-m", "mimeia", "--help"], capture_output=True, text=True)
    assert out.returncode == 0
    assert "doctor" in out.stdout and "up" in out.stdout


def test_unknown_command_is_an_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["sideways"])
    assert exc.value.code == 2
