"""The tutorial (docs/tutorial.md) works word for word: the test follows the page.

The page's ``{code-block}`` directives are read at test time and done in order, in a
temporary directory, with this checkout's txmail (``PYTHONPATH``):

- ``console``: each ``$ `` line is a command; the lines after it are output that must
  appear in order (whitespace runs are one space; ``...`` stands for any text, a line of
  its own for any lines). ``python -m venv``, ``source`` and ``pip install`` are skipped
  (the test's virtualenv stands for them); ``django-admin`` is the virtualenv's; ``cd``
  moves on. The commands that keep running get a process of their own and their output
  is awaited: ``python -m aiosmtpd`` (the page's listen address with a free port),
  ``manage.py db_worker``, ``manage.py runserver`` (given a free port) and
  ``manage.py shell`` (one session for the page's ``pycon`` blocks). Any other command
  must exit 0. A command the test doesn't know fails it.
- a block whose ``:caption:`` is a path is that file, written whole; ``PATH (add to the
  end)`` is appended to it. In the settings, ``"port": 1025`` becomes the free port: the
  only change the test makes to the page's files.
- ``pycon``: run in the shell session as doctests (shown output must match; ``...``
  elides).
- ``text`` captioned ``the aiosmtpd terminal``: lines awaited in aiosmtpd's output, as
  after a console command.
- any other block (no caption, not console or pycon) is an illustration, not run; so is
  a plain ``` fence.

Then the test reads what aiosmtpd printed and asserts both messages (recipient, subject,
the reset link, the welcome's rendered parts, each arriving once), opens the preview UI,
follows the reset link on the running server and posts the site's reset form. Last, it
swaps in the next steps' dev mailbox and finds a message on the preview's Sent page.
"""

import email
import email.policy
import json
import os
import queue
import re
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.smtp import free_port

pytestmark = [pytest.mark.smtp, pytest.mark.worker]

ROOT = Path(__file__).resolve().parent.parent
TUTORIAL = ROOT / "docs" / "tutorial.md"
BIN = Path(sys.executable).parent
APPEND = " (add to the end)"
SMTP_TERMINAL = "the aiosmtpd terminal"
AIOSMTPD = "python -m aiosmtpd -n -l 127.0.0.1:1025"
WAIT = 30  # seconds for a long-running process to print what the page shows
MESSAGE = re.compile(r"^---------- MESSAGE FOLLOWS ----------\n(.*?)\n"
                     r"------------ END MESSAGE ------------$", re.S | re.M)
FENCE = re.compile(r"^(?P<indent> *)(?P<fence>`{3,})\{code-block\} *(?P<lang>\S+) *$")
OPTION = re.compile(r"^:(?P<name>[\w-]+):(?: (?P<value>.*))?$")

# The tutorial's shell session: reads one JSON-encoded pycon block a line, runs it as a
# doctest in one namespace, answers on a line of its own.
SESSION = """
import doctest, json, sys
globs = {"__name__": "__main__"}
runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
for line in sys.stdin:
    block = json.loads(line)
    test = doctest.DocTestParser().get_doctest(
        block["source"], globs, block["name"], "docs/tutorial.md", block["line"] - 1)
    report = []
    result = runner.run(test, out=report.append, clear_globs=False)
    globs.update(test.globs)  # the DocTest ran on a copy
    print("@@session " + json.dumps([result.failed, "".join(report)]), flush=True)
"""

# Not the page's: the test's own send through the next steps' mailbox.
SEND_WELCOME = """
from django.contrib.auth.models import User
from accounts.emails import Welcome
Welcome(User.objects.get(username="ada")).send()
"""


@dataclass
class Block:
    lang: str
    caption: str
    text: str
    line: int  # of the block's first line of content

    @property
    def where(self) -> str:
        return f"docs/tutorial.md:{self.line}"


def blocks(markdown: str) -> list[Block]:
    """Every ``{code-block}`` of the page, in order."""
    found, lines, i = [], markdown.splitlines(), 0
    while i < len(lines):
        fence = FENCE.match(lines[i])
        i += 1
        if not fence:
            continue
        indent, options = len(fence["indent"]), {}
        while i < len(lines) and (option := OPTION.match(lines[i][indent:])):
            options[option["name"]] = option["value"] or ""
            i += 1
        if options and i < len(lines) and not lines[i].strip():
            i += 1  # the blank line between options and content
        start, body = i + 1, []
        while lines[i].strip() != fence["fence"]:
            body.append(lines[i][indent:])
            i += 1
        found.append(Block(fence["lang"], options.get("caption", ""),
                           "\n".join(body) + "\n", start))
    return found


def commands(block: Block) -> list[tuple[str, list[str]]]:
    """``(command, output lines shown)`` for each ``$ `` line of a console block."""
    found: list[tuple[str, list[str]]] = []
    for line in block.text.splitlines():
        if line.startswith("$ "):
            found.append((line[2:], []))
        else:
            assert found, f"{block.where}: output before any command: {line!r}"
            found[-1][1].append(line)
    return found


def _normal(line: str) -> str:
    return " ".join(line.split())


def match_from(expected: list[str], text: str, start: int = 0) -> int | None:
    """Where the ``expected`` lines end in ``text``'s lines from ``start``; None: not all there.

    Each line must match a whole line (``...`` is any text); a line ``...`` is any lines.
    """
    lines = text.splitlines()
    at = start
    for want in expected:
        if _normal(want) == "...":
            continue
        pattern = re.compile(".*?".join(map(re.escape, _normal(want).split("..."))))
        while at < len(lines) and not pattern.fullmatch(_normal(lines[at])):
            at += 1
        if at == len(lines):
            return None
        at += 1
    return at


def wait_for_port(port: int, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        assert process.poll() is None, f"exited with {process.returncode}:\n{log.read_text()}"
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    pytest.fail(f"nothing listens on port {port} after {WAIT} s:\n{log.read_text()}")


@dataclass
class Running:
    """A long-running command: its process, its log, how far the page has read it."""

    process: subprocess.Popen
    log: Path
    read: int = 0  # lines of the log the page's shown output has matched

    def expect(self, expected: list[str], where: str) -> None:
        deadline = time.monotonic() + WAIT
        while (end := match_from(expected, self.log.read_text(), self.read)) is None:
            if time.monotonic() > deadline or self.process.poll() is not None:
                pytest.fail(f"{where}: the output shown never came:\n" + "\n".join(expected)
                            + f"\n-- {self.log.name} (from line {self.read + 1}):\n"
                            + "\n".join(self.log.read_text().splitlines()[self.read:]))
            time.sleep(0.1)
        self.read = end


class Stay(urllib.request.HTTPRedirectHandler):
    """Don't follow redirects: the test asserts them."""

    def redirect_request(self, *args, **kwargs):
        return None


@dataclass
class Walk:
    """Follows the tutorial, block by block, in ``home``."""

    home: Path
    smtp_port: int = field(default_factory=free_port)
    web_port: int = field(default_factory=free_port)
    cwd: Path = field(init=False)
    running: dict[str, Running] = field(default_factory=dict)
    session: subprocess.Popen | None = None
    answers: "queue.Queue[str]" = field(default_factory=queue.Queue)

    def __post_init__(self) -> None:
        self.cwd = self.home
        self.browser = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(), Stay)
        environ = {k: v for k, v in os.environ.items()
                   if k not in ("DJANGO_SETTINGS_MODULE", "PYTHONPATH")}
        # This checkout's txmail (the virtualenv's editable install may point elsewhere).
        self.env = environ | {"PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1",
                              "PATH": f"{BIN}{os.pathsep}{environ.get('PATH', '')}"}
        # Deprecation warnings are errors in the project's processes, as in the suite's.
        self.strict = self.env | {"PYTHONWARNINGS": ",".join([
            "error::DeprecationWarning", "error::PendingDeprecationWarning",
            "ignore:'maxsplit' is passed as positional argument:DeprecationWarning"])}

    # -- the blocks ----------------------------------------------------------------

    def follow(self, block: Block) -> None:
        if block.lang == "console":
            for command, shown in commands(block):
                self.command(command, shown, block)
        elif block.lang == "pycon":
            self.pycon(block)
        elif block.caption == SMTP_TERMINAL:
            self.running[AIOSMTPD].expect(block.text.splitlines(), block.where)
        elif block.caption:
            self.write(block)
        # else: an illustration, not a step

    def write(self, block: Block) -> None:
        path, append = block.caption, block.caption.endswith(APPEND)
        path = path.removesuffix(APPEND) if append else path
        assert re.fullmatch(r"[\w./-]+", path), f"{block.where}: not a path: {block.caption!r}"
        text = block.text
        if path.endswith("settings.py"):
            assert text.count('"port": 1025') == 1, f"{block.where}: the SMTP port moved"
            text = text.replace('"port": 1025', f'"port": {self.smtp_port}')
        target = self.cwd / path
        assert not append or target.exists(), f"{block.where}: {path} doesn't exist to add to"
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(target, "a" if append else "w") as file:
            file.write(("\n\n" if append else "") + text)

    def command(self, command: str, shown: list[str], block: Block) -> None:
        where = f"{block.where}: {command}"
        words = shlex.split(command)
        if command in ("python -m venv .venv", "source .venv/bin/activate"):
            return
        if words[:2] == ["pip", "install"]:
            assert "txmail[tasks-db]" in words, where
            return
        if words[0] == "cd":
            self.cwd = self.cwd / words[1]
            return
        if words[0] == "django-admin":
            self.run([str(BIN / "django-admin"), *words[1:]], shown, where)
        elif command == AIOSMTPD:
            argv = [sys.executable, *words[1:-1], f"127.0.0.1:{self.smtp_port}"]
            # Not the project's process: its warnings aren't the tutorial's.
            self.start(command, argv, self.env, port=self.smtp_port)
        elif words[:2] != ["python", "manage.py"]:
            pytest.fail(f"{where}: the test doesn't know how to run this command")
        elif words[2:] == ["shell"]:
            self.start_session()
        elif words[2:] == ["db_worker"]:
            self.start(command, [sys.executable, *words[1:]], self.strict)
        elif words[2:] == ["runserver"]:
            argv = [sys.executable, *words[1:], f"127.0.0.1:{self.web_port}"]
            self.start(command, argv, self.strict, port=self.web_port)
        else:
            self.run([sys.executable, *words[1:]], shown, where)
            return
        if shown and command in self.running:
            self.running[command].expect(shown, where)

    def run(self, argv: list[str], shown: list[str], where: str) -> None:
        done = subprocess.run(argv, cwd=self.cwd, env=self.strict, capture_output=True,
                              text=True, timeout=120)
        output = done.stdout + done.stderr
        assert done.returncode == 0, f"{where}: exit {done.returncode}\n{output}"
        assert match_from(shown, output) is not None, (
            f"{where}: the output shown isn't there:\n" + "\n".join(shown)
            + f"\n-- the output:\n{output}")

    def start(self, command: str, argv: list[str], env: dict[str, str],
              port: int | None = None) -> None:
        log = self.home / f"{argv[2]}.log"  # aiosmtpd, db_worker, runserver
        with open(log, "wb") as out:
            # A session of its own: the autoreloader's child goes down with it.
            process = subprocess.Popen(argv, cwd=self.cwd, env=env, stdout=out,
                                       stderr=subprocess.STDOUT, start_new_session=True)
        self.running[command] = Running(process, log)
        if port is not None:
            wait_for_port(port, process, log)

    def start_session(self) -> None:
        log = self.home / "shell.log"
        with open(log, "wb") as errors:
            self.session = subprocess.Popen(
                [sys.executable, "manage.py", "shell", "-c", SESSION], cwd=self.cwd,
                env=self.strict, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=errors, text=True, start_new_session=True)
        stdout = self.session.stdout
        assert stdout is not None

        def read() -> None:
            for line in stdout:
                self.answers.put(line)
            self.answers.put("")  # the session ended

        threading.Thread(target=read, daemon=True).start()

    def pycon(self, block: Block) -> None:
        assert self.session and self.session.stdin, f"{block.where}: no shell is open"
        self.session.stdin.write(json.dumps(
            {"source": block.text, "name": block.where, "line": block.line}) + "\n")
        self.session.stdin.flush()
        while True:
            try:
                line = self.answers.get(timeout=WAIT)
            except queue.Empty:
                pytest.fail(f"{block.where}: no answer from the shell in {WAIT} s")
            assert line, f"{block.where}: the shell ended:\n{self.logs()}"
            if line.startswith("@@session "):
                break
        failed, report = json.loads(line.removeprefix("@@session "))
        assert not failed, f"{block.where}:\n{report}\n{self.logs()}"

    def restart_server(self) -> None:
        """Start the development server again (new settings), on a new port."""
        command = "python manage.py runserver"
        process = self.running.pop(command).process
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        # A new port: the old one may be held a moment longer by the reloader's child.
        self.web_port = free_port()
        argv = [*list(process.args)[:-1], f"127.0.0.1:{self.web_port}"]  # type: ignore[arg-type]
        self.start(command, argv, self.strict, port=self.web_port)

    # -- afterwards ------------------------------------------------------------------

    def received(self) -> list[email.message.EmailMessage]:
        """The messages aiosmtpd printed, parsed."""
        printed = self.running[AIOSMTPD].log.read_text()
        return [email.message_from_string(text + "\n", policy=email.policy.default)
                for text in MESSAGE.findall(printed)]  # type: ignore[misc]

    def get(self, path: str, form: dict[str, str] | None = None) -> tuple[int, str, str]:
        """GET ``path`` from the running server (POST ``form``): status, Location, body.

        Cookies are kept, as a browser keeps them; redirects are not followed.
        """
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        url = f"http://127.0.0.1:{self.web_port}{path}"
        try:
            with self.browser.open(url, data, timeout=30) as answer:
                return answer.status, "", answer.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.headers.get("Location", ""), error.read().decode()

    def logs(self) -> str:
        return "\n".join(f"== {p.name}\n" + p.read_text()[-3000:]
                         for p in sorted(self.home.glob("*.log")))

    def stop(self) -> None:
        processes = [running.process for running in self.running.values()]
        for process in [*processes, *([self.session] if self.session else [])]:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)  # with the autoreloader's child
                process.wait()


def parts(message: email.message.EmailMessage) -> tuple[str, str]:
    text, html = (message.get_body(preferencelist=(kind,)) for kind in ("plain", "html"))
    assert text is not None and html is not None, message
    return text.get_content(), html.get_content()


def test_the_tutorial_works_word_for_word(tmp_path):
    walk = Walk(tmp_path)
    try:
        for block in blocks(TUTORIAL.read_text()):
            walk.follow(block)
        assert {"python manage.py db_worker", "python manage.py runserver"} <= set(walk.running)

        reset, welcome = walk.received()  # exactly two so far, the second one once
        assert reset["To"] == "ada@example.com"
        assert reset["From"] == "My Site <hello@mysite.example>"
        assert reset["Subject"] == "Password reset on My Site"
        text, html = parts(reset)
        [link] = re.findall(r"http://127\.0\.0\.1:8000/accounts/reset/[\w-]+/[\w-]+/", text)
        assert f'href="{link}"' in html
        assert "Someone asked to reset your password on My Site." in text
        assert "Choose a new password" in html and '<html lang="en"' in html

        assert welcome["To"] == "ada@example.com"
        assert welcome["Subject"] == "Welcome to My Site, Ada"
        text, html = parts(welcome)
        assert "<h1>Welcome, Ada!</h1>" in html
        # The <style> rule, inlined; the link made absolute with SITE_URL.
        assert 'href="http://127.0.0.1:8000/accounts/login/"' in html
        assert "background:#2563eb" in html.replace(" ", "")
        assert "Your username is ada." in text
        assert "Log in (http://127.0.0.1:8000/accounts/login/)" in text

        # The preview UI is mounted; the reset link opens Django's set-password step.
        status, _, page = walk.get("/emails/")
        assert status == 200 and "accounts.Welcome" in page and "accounts.PasswordReset" in page
        status, _, page = walk.get("/emails/accounts.Welcome/default/")
        assert status == 200 and "Welcome to My Site, Ada" in page
        status, location, _ = walk.get(link.removeprefix("http://127.0.0.1:8000"))
        assert (status, location.rsplit("/", 2)[-2]) == (302, "set-password")

        # The site's "forgot your password?" page sends the same message.
        status, _, page = walk.get("/accounts/password_reset/")
        [token] = re.findall(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
        status, location, _ = walk.get("/accounts/password_reset/", {
            "csrfmiddlewaretoken": token, "email": "ada@example.com"})
        assert (status, location) == (302, "/accounts/password_reset/done/")
        walk.running[AIOSMTPD].expect(["Subject: Password reset on My Site"], "the reset page")
        *_, again = walk.received()
        text, _ = parts(again)
        assert again["To"] == "ada@example.com"
        assert re.search(r"http://127\.0\.0\.1:8000/accounts/reset/[\w-]+/[\w-]+/", text)

        # The next steps' dev mailbox instead of the SMTP server: Sent lists what it kept.
        [mailbox] = [b for b in blocks(TUTORIAL.read_text()) if "MailboxBackend" in b.text]
        with open(walk.cwd / "mysite" / "settings.py", "a") as settings:
            settings.write("\n" + mailbox.text)
        walk.restart_server()
        walk.run([sys.executable, "manage.py", "shell", "-c", SEND_WELCOME], [], "the mailbox")
        status, _, page = walk.get("/emails/sent/")
        assert status == 200 and "Welcome to My Site, Ada" in page
    except BaseException:
        print(walk.logs())
        raise
    finally:
        walk.stop()
