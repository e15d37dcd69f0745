"""The README's manage.py commands run as written after `make demo`: it writes a local
settings file (DEBUG=1, a generated SECRET_KEY) that config/settings.py reads, while a
production machine, which has no such file, still refuses to start without a secret.

Settings are read when config.settings is imported, so each case is a fresh process
with exactly the environment it names (nothing of the suite's DEBUG=1 leaks in)."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
INHERITED = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "VIRTUAL_ENV")
SHOW = "from django.conf import settings; print(settings.DEBUG, settings.SECRET_KEY)"


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    base = {name: os.environ[name] for name in INHERITED if name in os.environ}
    return subprocess.run(
        args,
        cwd=ROOT,
        env={**base, "DJANGO_SETTINGS_MODULE": "config.settings", **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def django(code: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return run([sys.executable, "-c", f"import django; django.setup()\n{code}"], env)


@pytest.fixture
def demo_settings(tmp_path) -> Path:
    """The file exactly as `make demo` writes it (its own recipe, into a temporary path;
    the virtualenv is taken as installed)."""
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    path = tmp_path / "local.env"
    made = run(["make", "-s", "-o", ".venv/.installed", f"LOCAL_ENV={path}", str(path)], {})
    assert made.returncode == 0, made.stderr
    return path


def test_make_demo_writes_debug_and_a_secret_of_its_own(demo_settings, tmp_path):
    text = demo_settings.read_text()
    assert text.startswith("DEBUG=1\n")
    secret = re.search(r"^SECRET_KEY=(\S+)$", text, re.MULTILINE).group(1)
    assert len(secret) >= 50

    other = tmp_path / "other" / "local.env"
    made = run(["make", "-s", "-o", ".venv/.installed", f"LOCAL_ENV={other}", str(other)], {})
    assert made.returncode == 0, made.stderr
    assert secret not in other.read_text()  # generated per machine, not a shared default


def test_the_settings_read_the_local_file(demo_settings):
    secret = re.search(r"^SECRET_KEY=(\S+)$", demo_settings.read_text(), re.MULTILINE).group(1)

    shown = django(SHOW, {"LOCAL_SETTINGS_FILE": str(demo_settings)})

    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.split() == ["True", secret]


def test_a_readme_command_runs_as_written_with_the_local_file(demo_settings):
    # The README's batch classification, as written (no DEBUG=1 in front): its help
    # needs the settings to load, which is where it stopped before.
    shown = run(
        [".venv/bin/python", "manage.py", "classify_messages", "--help"],
        {"LOCAL_SETTINGS_FILE": str(demo_settings)},
    )
    assert shown.returncode == 0, shown.stderr
    assert "INPUT" in shown.stdout.upper()


def test_without_the_file_and_without_a_secret_startup_is_refused(tmp_path):
    refused = django(SHOW, {"LOCAL_SETTINGS_FILE": str(tmp_path / "absent.env")})

    assert refused.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is off" in refused.stderr


def test_the_environment_wins_over_the_file(demo_settings):
    shown = django(
        SHOW,
        {
            "LOCAL_SETTINGS_FILE": str(demo_settings),
            "DEBUG": "0",
            "SECRET_KEY": "from-the-environment-" + "k" * 40,
        },
    )
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.split() == ["False", "from-the-environment-" + "k" * 40]


def test_every_manage_py_command_in_the_readme_is_written_with_the_virtualenv():
    readme = (ROOT / "README.md").read_text()
    written = re.findall(r"([\w./]*python[\w.]*) manage\.py (\w+)", readme)

    assert written, "the README shows manage.py commands"
    assert {python for python, _ in written} == {".venv/bin/python"}
    listed = run(
        [".venv/bin/python", "manage.py", "help", "--commands"],
        {"DEBUG": "1", "LOCAL_SETTINGS_FILE": ""},
    )
    assert listed.returncode == 0, listed.stderr
    assert {command for _, command in written} <= set(listed.stdout.split())
