"""The example project works: its own tests, checks and the example messages.

It has its own settings, so it runs in a subprocess with Django's test runner.
"""

import email
import email.policy
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parent.parent / "example_project"
# Django's deprecation warnings are errors in the example's process too. (Python's
# -W can't name this category: it is looked up before django is importable.)
STRICT_MANAGE = "; ".join([
    "import runpy, sys, warnings",
    "from django.utils.deprecation import RemovedInDjango2028Warning",
    "warnings.filterwarnings('error', category=RemovedInDjango2028Warning)",
    "warnings.filterwarnings('error', category=DeprecationWarning, module='django')",
    "sys.argv[0] = 'manage.py'",
    "runpy.run_path('manage.py', run_name='__main__')",
])


def manage(*args, **environ):
    return subprocess.run(
        [sys.executable, "-c", STRICT_MANAGE, *args],
        cwd=EXAMPLE, capture_output=True, text=True, timeout=300,
        # pytest's DJANGO_SETTINGS_MODULE must not leak into the example's manage.py.
        env={k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"} | environ,
    )


def test_example_project_tests_pass():
    result = manage("test", "shop", "--noinput", "-v", "2")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "\nOK" in result.stderr and "FAILED" not in result.stderr


def test_example_project_has_no_check_errors_or_missing_migrations():
    result = manage("check", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    result = manage("makemigrations", "--check", "--dry-run")
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_example_messages_have_no_quality_errors():
    # Every check, spam included (SpamAssassin, when installed, scores each variant).
    result = manage("txmail", "lint", "--severity", "info")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 errors," in result.stdout
    lines = result.stdout.splitlines()
    # The warnings left are explained in docs/how-to/quality.md ("The example project").
    warned = {line.split(":")[0].split()[-1] for line in lines if line.startswith("  warning ")}
    assert warned <= {"css-unsupported"}, result.stdout
    variants = [line for line in lines if line.startswith("shop.")]
    scored = [line for line in lines if line.startswith("  info spam-score: ")]
    assert len(variants) >= 8 and len(scored) == len(variants), result.stdout
    if shutil.which("spamassassin"):
        assert all("SpamAssassin scores this" in line for line in scored), result.stdout


def test_the_examples_placeholder_secrets_fail_the_check_outside_debug():
    result = manage("check", DJANGO_DEBUG="0")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "settings.SECRET_KEY: (txmail.E051) settings.SECRET_KEY is the example " in (
        result.stderr)
    assert ("settings.ANYMAIL['WEBHOOK_SECRET']: (txmail.E052) ANYMAIL['WEBHOOK_SECRET'] is "
            "the example project's placeholder, and DEBUG is False") in result.stderr


def test_txmail_command_help_lists_every_subcommand():
    result = manage("txmail", "--help")
    assert result.returncode == 0, result.stderr
    assert "\n    list                Registered message classes: mailer" in result.stdout
    assert "\n    render              Render one preview variant to stdout.\n" in result.stdout
    assert "\n    send                Send one preview variant to an address" in result.stdout
    result = manage("txmail", "render", "--help")
    assert result.returncode == 0, result.stderr
    assert "--format {html,text,eml}" in result.stdout


def test_txmail_command_bad_input_exits_1_with_the_fix():
    result = manage("txmail", "send", "shop.Welcome")
    assert result.returncode == 2  # argparse: a required option is missing
    assert "the following arguments are required: --to" in result.stderr
    result = manage("txmail", "render", "shop.Nope")
    assert (result.returncode, result.stdout) == (1, "")
    # The last line: `python -W` warns first that it can't import Django at startup.
    assert result.stderr.splitlines()[-1] == (
        "CommandError: No message class is registered as 'shop.Nope'; registered: "
        "shop.Newsletter, shop.OrderReceipt, shop.OrderShipped, shop.PasswordReset, "
        "shop.Welcome. Run "
        "'manage.py txmail list' to see them.")


def test_txmail_render_eml_writes_the_message_bytes():
    result = subprocess.run(
        [sys.executable, "manage.py", "txmail", "render", "shop.OrderReceipt", "--format", "eml"],
        cwd=EXAMPLE, capture_output=True, timeout=300,
        env={k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"},
    )
    assert result.returncode == 0, result.stderr
    msg = email.message_from_bytes(result.stdout, policy=email.policy.default)
    assert msg["Subject"] == "Your Acme Shop receipt for order A-10024"
    [pdf] = [part for part in msg.walk() if part.get_filename() == "receipt-A-10024.pdf"]
    assert pdf.get_content().startswith(b"%PDF-")


def test_run_starts_a_stopped_worker_again_and_says_so(tmp_path):
    # ./run's loop around db_worker (example_project/keep_running.sh): a command
    # that fails twice (as db_worker does after an edit breaks a check), then runs.
    flaky = (
        'n=$(cat count 2>/dev/null || echo 0); echo $((n + 1)) > count; '
        'if [ "$n" -lt 2 ]; then echo "SystemCheckError: broken edit" >&2; exit 1; fi; '
        'echo $$ > running.pid; exec sleep 60'
    )
    loop = subprocess.Popen(
        ["bash", "-c", f'set -euo pipefail; source "{EXAMPLE}/keep_running.sh"; '
                       f"keep_running db_worker sh -c '{flaky}'"],
        cwd=tmp_path, stderr=subprocess.PIPE, text=True,
        env=os.environ | {"KEEP_RUNNING_PAUSE": "0"},
    )
    pid_file = tmp_path / "running.pid"
    for _ in range(100):
        if pid_file.exists() and pid_file.read_text().strip():
            break
        time.sleep(0.05)
    running = int(pid_file.read_text())
    loop.terminate()  # what ./run does on exit: the command stops with its loop
    assert loop.wait(timeout=10) == 0
    assert loop.stderr.read().splitlines() == [
        "SystemCheckError: broken edit",
        "[db_worker] stopped (exit status 1): queued mail waits until it runs again. Fix "
        "the error above; starting it again in 0 s.",
    ] * 2
    for _ in range(100):
        try:
            os.kill(running, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        raise AssertionError("the command outlived its loop")
