"""Production settings, as the README's production section sets the environment: Django's
deployment checks find nothing, HTTPS hardening is on, and development keeps it off.

Settings are read from the environment when config.settings is imported, so each case
runs in a fresh Python process with exactly that environment (DEBUG unset for
production)."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management.utils import get_random_secret_key

ROOT = Path(__file__).resolve().parents[2]
# Whatever the suite runs with (DEBUG=1, the test database, other SECURE_* or cookie
# settings) must not leak into the production process.
INHERITED = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "VIRTUAL_ENV")


def readme_production_env() -> dict[str, str]:
    """The `export NAME=value` lines of the README's "Running in production" section,
    with the SECRET_KEY placeholder replaced by a fresh random key of the length the
    README asks for."""
    text = (ROOT / "README.md").read_text()
    section = text.split("## Running in production", 1)[1].split("\n## ", 1)[0]
    exported = {}
    for line in section.splitlines():
        if line.startswith("export "):
            for pair in line.removeprefix("export ").split():
                name, _, value = pair.partition("=")
                exported[name] = value
    if exported.get("SECRET_KEY") == "...":
        exported["SECRET_KEY"] = get_random_secret_key()
    return exported


def run_django(code: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    base = {name: os.environ[name] for name in INHERITED if name in os.environ}
    return subprocess.run(
        [sys.executable, "-c", f"import django; django.setup()\n{code}"],
        cwd=ROOT,
        # LOCAL_SETTINGS_FILE="": a laptop's var/local.env (make demo) is no production's.
        env={**base, "DJANGO_SETTINGS_MODULE": "config.settings", "LOCAL_SETTINGS_FILE": "", **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_readme_sets_what_production_needs():
    env = readme_production_env()

    assert {"SECRET_KEY", "ALLOWED_HOSTS", "DATABASE_URL", "CELERY_BROKER_URL"} <= set(env)
    assert "DEBUG" not in env
    assert len(env["SECRET_KEY"]) >= 50


def test_check_deploy_with_the_readme_environment_gives_no_warnings():
    result = run_django(
        "from django.core.management import call_command\n"
        "call_command('check', deploy=True, fail_level='WARNING')",
        readme_production_env(),
    )

    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "System check identified no issues" in output
    assert not re.search(r"\([a-z_]+\.[WE]\d+\)", output), output


def test_check_deploy_does_warn_when_hardening_is_turned_off():
    # The check above can fail: turning HSTS off is named.
    env = {**readme_production_env(), "SECURE_HSTS_SECONDS": "0"}
    result = run_django(
        "from django.core.management import call_command\ncall_command('check', deploy=True)", env
    )

    assert "security.W004" in result.stdout + result.stderr


SHOW_HARDENING = (
    "from django.conf import settings as s\n"
    "print(s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS, s.SECURE_HSTS_INCLUDE_SUBDOMAINS,"
    " s.SECURE_HSTS_PRELOAD, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE,"
    " s.SECURE_PROXY_SSL_HEADER)"
)


def test_production_is_https_only_behind_the_readmes_proxy_header():
    result = run_django(SHOW_HARDENING, readme_production_env())

    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[0] == (
        "True 31536000 True True True True ('HTTP_X_FORWARDED_PROTO', 'https')"
    )


def test_a_secret_key_that_starts_with_a_dollar_sign_is_taken_as_it_is():
    # Django's get_random_secret_key() draws its first character from 50, "$" among them.
    key = "$" + get_random_secret_key()[1:]
    env = {**readme_production_env(), "SECRET_KEY": key}

    result = run_django("from django.conf import settings; print(settings.SECRET_KEY)", env)

    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[0] == key


def test_development_has_no_https_redirect_or_hsts():
    result = run_django(SHOW_HARDENING, {"DEBUG": "1"})

    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[0] == "False 0 False False False False None"


def test_each_hardening_setting_comes_from_the_environment():
    env = {
        **readme_production_env(),
        "SECURE_SSL_REDIRECT": "False",
        "SECURE_HSTS_SECONDS": "3600",
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": "False",
        "SECURE_HSTS_PRELOAD": "False",
        "SECURE_PROXY_SSL_HEADER": "HTTP_X_FORWARDED_SSL",
    }
    result = run_django(SHOW_HARDENING, env)

    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[0] == (
        "False 3600 False False True True ('HTTP_X_FORWARDED_SSL', 'https')"
    )


@pytest.mark.parametrize("header", ["X-Forwarded-Proto", "x_forwarded_proto", "HTTP_"])
def test_a_proxy_header_not_named_as_in_request_meta_is_refused(header):
    env = {**readme_production_env(), "SECURE_PROXY_SSL_HEADER": header}
    result = run_django(SHOW_HARDENING, env)

    assert result.returncode != 0
    assert "SECURE_PROXY_SSL_HEADER" in result.stderr
