"""Benchmark txmail's rendering against the per-message pipeline (a script, not a test).

    .venv/bin/python tests/bench/bench.py              # per-template table + end-to-end
    .venv/bin/python tests/bench/bench.py --micro      # only the per-template table
    .venv/bin/python tests/bench/bench.py --micro loop_width two_loops   # some templates
    .venv/bin/python tests/bench/bench.py --e2e --recipients 5000
    .venv/bin/python tests/bench/bench.py --memory     # peak memory, N vs 10 N recipients

Per template: the time to render one message through the naive pipeline (Django
render, MJML, CSS inlining, HTML-to-text — what ``TXMAIL["PRECOMPILE"] = False``
runs) and through txmail (``Message.render()``: compiled templates), their
ratio, and the floor: rendering the final compiled HTML as a plain Django
template (and, second floor, the compiled HTML plus text part).
"""

import argparse
import os
import re
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))


def setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.bench.settings")
    import django

    django.setup()


_message_class = None


def corpus_message(template_name: str, recipient: int, n_items: int = 5):
    """A message of ``template_name`` for recipient number ``recipient``."""
    global _message_class
    from tests.corpus import typical_context

    if _message_class is None:  # defined after django.setup()
        from txmail import Message

        class CorpusMessage(Message):
            subject = "News for {{ name }}"

            def __init__(self, template_name: str, **kwargs) -> None:  # type: ignore[no-untyped-def]
                super().__init__(**kwargs)
                self.template_name = template_name

        _message_class = CorpusMessage
    context = typical_context(recipient, n_items)
    return _message_class(
        template_name, to=[f"user{recipient}@example.com"], context=context
    )


def _per_call(fn, *, min_seconds: float, min_calls: int, rounds: int = 5) -> float:
    """Seconds per call of ``fn(i)``: the best of ``rounds`` timed rounds.

    Each round runs for at least min_seconds/rounds and min_calls/rounds calls.
    The best round is the one least disturbed by other work on a shared
    machine (as ``timeit`` advises); every column is measured the same way.
    """
    best = float("inf")
    calls = 0
    for _ in range(rounds):
        started = time.perf_counter()
        done = 0
        while True:
            fn(calls)
            calls += 1
            done += 1
            elapsed = time.perf_counter() - started
            if done * rounds >= min_calls and elapsed * rounds >= min_seconds:
                break
        best = min(best, elapsed / done)
    return best


_WRAPPER = re.compile(r"\{% txmail_out \S+ %\}|\{% endtxmail_out %\}")


def _plain(template):
    """The compiled template with its tags unwrapped: a plain Django template."""
    from txmail.rendering.compiled.runtime import CompiledTemplate

    return CompiledTemplate(_WRAPPER.sub("", template.source), engine=template.engine)


def micro(quick: bool, names: list[str] | None = None) -> list[dict]:
    from tests.corpus import CORPUS

    budget = 0.2 if quick else 1.0
    chosen = [f"corpus/{n.removeprefix('corpus/')}" for n in names] if names else CORPUS
    unknown = [n for n in chosen if n not in CORPUS]
    if unknown:
        raise SystemExit(f"not in the corpus: {', '.join(unknown)}")
    return [_measure_template(name, budget) for name in chosen]


def _measure_template(name: str, budget: float) -> dict:
    from django.template import Context
    from django.test import override_settings

    from txmail.rendering import compiled as precompile
    from txmail.rendering.find import find_templates

    messages = [corpus_message(name, i) for i in range(50)]
    contexts = [m.get_context_data() for m in messages]
    with override_settings(TXMAIL={**_txmail(), "PRECOMPILE": False}):
        messages[0].render()  # warm the loaders
        naive = _per_call(lambda i: messages[i % 50].render(),
                          min_seconds=budget, min_calls=3)
    rendered = messages[0].render()  # compiles (outside the timing)
    fast = _per_call(lambda i: messages[i % 50].render(),
                     min_seconds=budget, min_calls=200)
    compiled, templates = precompile.get_compiled("bench", find_templates("bench", [name]))
    floor = floor_text = float("nan")
    if compiled.html is not None:
        html = _plain(compiled.html)
        text = _plain(compiled.text) if compiled.text is not None else templates.text
        floor = _per_call(lambda i: html.render(Context(contexts[i % 50])),
                          min_seconds=budget, min_calls=200)

        def both(i: int) -> None:
            html.render(Context(contexts[i % 50]))
            if compiled.text is not None:
                text.render(Context(contexts[i % 50], autoescape=False))
            else:
                text.render(contexts[i % 50])

        floor_text = _per_call(both, min_seconds=budget, min_calls=200)
    return {
        "template": name, "naive": naive, "txmail": fast, "floor": floor,
        "floor_text": floor_text, "compiled": rendered.fallback_reason is None,
        "compile_ms": compiled.compile_seconds * 1000, "reason": rendered.fallback_reason,
    }


def _txmail() -> dict:
    from django.conf import settings

    return dict(getattr(settings, "TXMAIL", {}))


def print_micro(rows: list[dict]) -> None:
    ms = 1000
    print("\nPer message, one render (ms); ratio = naive / txmail; floor = the final "
          "compiled HTML rendered as a plain Django template")
    header = (f"{'template':<22}{'path':>9}{'naive':>9}{'txmail':>9}{'ratio':>8}"
              f"{'floor':>8}{'/floor':>8}{'+text':>8}{'/+text':>8}")
    print(header)
    print("-" * len(header))
    for r in rows:
        ratio = r["naive"] / r["txmail"]
        print(f"{r['template'].removeprefix('corpus/'):<22}"
              f"{'compiled' if r['compiled'] else 'fallback':>9}"
              f"{r['naive'] * ms:>9.2f}{r['txmail'] * ms:>9.3f}{ratio:>7.0f}x"
              + (f"{r['floor'] * ms:>8.3f}{r['txmail'] / r['floor']:>7.1f}x"
                 f"{r['floor_text'] * ms:>8.3f}{r['txmail'] / r['floor_text']:>7.1f}x"
                 if r["compiled"] else f"{'-':>8}{'-':>8}{'-':>8}{'-':>8}"))
    ratios = [r["naive"] / r["txmail"] for r in rows]
    to_floor = [r["txmail"] / r["floor"] for r in rows if r["compiled"]]
    to_floor_text = [r["txmail"] / r["floor_text"] for r in rows if r["compiled"]]
    print("-" * len(header))
    print(f"median ratio naive/txmail: {statistics.median(ratios):.0f}x over "
          f"{len(rows)} templates ({sum(r['compiled'] for r in rows)} compiled)")
    if to_floor:
        print(f"median txmail/floor: {statistics.median(to_floor):.1f}x (HTML only), "
              f"{statistics.median(to_floor_text):.1f}x (HTML + text part)")
    for r in rows:  # why each fallback is one, so a table says what to fix
        if not r["compiled"]:
            print(f"fallback {r['template'].removeprefix('corpus/')}: {r['reason']}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--micro", action="store_true", help="only the per-template table")
    parser.add_argument("templates", nargs="*",
                        help="corpus templates to measure (default: all)")
    parser.add_argument("--e2e", action="store_true", help="only the SMTP newsletter run")
    parser.add_argument("--memory", action="store_true",
                        help="peak memory of txmail for N and 10 N recipients")
    parser.add_argument("--recipients", type=int, default=5000)
    parser.add_argument("--naive-recipients", type=int, default=500,
                        help="recipients for the naive run (it is ~100x slower)")
    parser.add_argument("--batch", type=int, default=200, help="messages per connection")
    parser.add_argument("--quick", action="store_true", help="shorter timings")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    from tests.bench import e2e

    if args.worker:  # a measured subprocess
        setup_django()
        e2e.worker(args.worker, args.recipients, args.batch)
        return
    everything = not (args.micro or args.e2e or args.memory)
    if args.micro or everything:
        setup_django()
        print_micro(micro(args.quick, args.templates))
    if args.e2e or everything:
        e2e.run(args.recipients, args.naive_recipients, args.batch)
    if args.memory:
        e2e.memory(args.recipients, args.batch)


if __name__ == "__main__":
    main()
