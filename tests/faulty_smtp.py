"""A fault-injecting SMTP server for delivery tests: aiosmtpd on a free loopback port.

Each fault has its own rate (a seeded RNG draws them). Connection faults are
drawn once per connection, before the greeting; message faults once per mail
transaction, at MAIL:

- ``greeting_421``: answer the connection with 421 and close it;
- ``greeting_stall``: say nothing until past the client's timeout, then close;
- ``mail_421``: answer MAIL with 421 (service going down) and close;
- ``rcpt_451`` / ``rcpt_550``: refuse every RCPT of the transaction, 451 or 550;
- ``drop_before_data``: close the connection when DATA is sent;
- ``drop_mid_data``: accept DATA (354), read part of the payload, close;
- ``data_451`` / ``data_550``: read the whole message, then refuse it;
- ``drop_after_dot``: read the whole message and close without replying. The
  message is *kept as accepted*: a real MTA may have queued it (the ambiguous
  window: the client can't know);
- ``stall_after_data``: read the whole message and say nothing until past the
  client's timeout; the message is not kept.

Plus ``latency`` (seconds before each reply to the end of DATA, for
benchmarks), ``rcpt_cap`` (RCPTs beyond it get 452, as real servers cap
recipients per transaction) and ``refuse`` (addresses always answered 550).

In-process: ``FaultySMTPServer(...).start()`` (a thread runs the event loop;
worker processes reach it over TCP). As its own process::

    python -m tests.faulty_smtp --port 2525 --rates greeting_421=0.01,data_451=0.02 \\
        --seed 7 --latency 0.05 --record accepted.jsonl

``--record`` appends one JSON line per accepted message.
"""

import argparse
import asyncio
import json
import random
import signal
import threading
from collections import Counter
from dataclasses import dataclass, field
from email.parser import BytesHeaderParser
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP

from tests.smtp import Received, free_port

CONNECTION_FAULTS = ("greeting_421", "greeting_stall")
MESSAGE_FAULTS = (
    "mail_421", "rcpt_451", "rcpt_550", "drop_before_data", "drop_mid_data",
    "data_451", "data_550", "drop_after_dot", "stall_after_data",
)
FAULTS = CONNECTION_FAULTS + MESSAGE_FAULTS

# What a handler hook returns to make FaultySMTP close or stall instead of replying.
_DROP = "txmail-test:drop"
_STALL = "txmail-test:stall"


def parse_rates(text: str) -> dict[str, float]:
    """``"greeting_421=0.01,data_451=0.02"`` → ``{"greeting_421": 0.01, ...}``."""
    rates: dict[str, float] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, _, value = item.partition("=")
        rates[name.strip()] = float(value)
    return check_rates(rates)


def check_rates(rates: dict[str, float]) -> dict[str, float]:
    unknown = sorted(set(rates) - set(FAULTS))
    if unknown:
        raise ValueError(f"Unknown fault(s) {unknown}: choose from {list(FAULTS)}.")
    for kinds in (CONNECTION_FAULTS, MESSAGE_FAULTS):
        if sum(rates.get(k, 0.0) for k in kinds) > 1:
            raise ValueError(f"The rates of {list(kinds)} add up to more than 1.")
    return rates


def spread(total: float, kinds: tuple[str, ...] = FAULTS) -> dict[str, float]:
    """Rates for ``kinds`` adding up to ``total``, one share each."""
    return {kind: total / len(kinds) for kind in kinds}


def message_id_of(data: bytes) -> str:
    return str(BytesHeaderParser().parsebytes(data).get("Message-ID", "")).strip()


@dataclass
class Injected:
    fault: str
    rcpt_tos: list[str]
    message_id: str = ""  # known only for faults after the payload was read


@dataclass
class FaultPlan:
    """The handler: draws faults, answers, and records what was accepted."""

    rates: dict[str, float] = field(default_factory=dict)
    seed: int = 0
    latency: float = 0.0
    stall: float = 3.0
    rcpt_cap: int | None = None
    refuse: frozenset[str] = frozenset()
    record: str | None = None
    received: list[Received] = field(default_factory=list)
    by_message_id: Counter = field(default_factory=Counter)
    injected: list[Injected] = field(default_factory=list)

    def __post_init__(self) -> None:
        check_rates(self.rates)
        self.rng = random.Random(self.seed)
        self.armed = False
        self.connections: set[Any] = set()
        self.lock = threading.Lock()
        self.refuse = frozenset(a.lower() for a in self.refuse)

    def draw(self, kinds: tuple[str, ...]) -> str | None:
        roll = self.rng.random()
        for kind in kinds:
            roll -= self.rates.get(kind, 0.0)
            if roll < 0:
                return kind
        return None

    def log(self, fault: str, rcpt_tos: Any = (), data: bytes | None = None) -> None:
        with self.lock:
            self.injected.append(Injected(fault, list(rcpt_tos),
                                          message_id_of(data) if data else ""))

    def accept(self, envelope: Any) -> None:
        data = envelope.original_content
        received = Received(envelope.mail_from, list(envelope.rcpt_tos), data)
        message_id = message_id_of(data)
        with self.lock:
            self.received.append(received)
            self.by_message_id[message_id] += 1
            if self.record:
                with open(self.record, "a", encoding="utf-8") as out:
                    out.write(json.dumps({"message_id": message_id,
                                          "mail_from": received.mail_from,
                                          "rcpt_tos": received.rcpt_tos,
                                          "size": len(data)}) + "\n")

    def counts(self) -> Counter:
        """How many times each fault was injected."""
        with self.lock:
            return Counter(i.fault for i in self.injected)

    # aiosmtpd handler hooks -------------------------------------------------

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        session.fault = self.draw(MESSAGE_FAULTS)
        if session.fault == "mail_421":
            self.log("mail_421")
            return "421 4.3.2 Service shutting down (injected)"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        fault = getattr(session, "fault", None)
        if address.lower() in self.refuse:
            return f"550 5.1.1 <{address}>: no such user"
        if self.rcpt_cap is not None and len(envelope.rcpt_tos) >= self.rcpt_cap:
            return "452 4.5.3 Too many recipients"
        if fault in ("rcpt_451", "rcpt_550"):
            self.log(fault, [address])
            return ("451 4.3.0 Try again later (injected)" if fault == "rcpt_451"
                    else f"550 5.1.1 <{address}>: mailbox unavailable (injected)")
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        fault = getattr(session, "fault", None)
        if self.latency:
            await asyncio.sleep(self.latency)
        if fault in ("data_451", "data_550", "drop_after_dot", "stall_after_data"):
            self.log(fault, envelope.rcpt_tos, envelope.original_content)
        if fault == "data_451":
            return "451 4.3.0 Temporary failure after DATA (injected)"
        if fault == "data_550":
            return "550 5.7.1 Message rejected as spam (injected)"
        if fault == "stall_after_data":
            return _STALL
        self.accept(envelope)
        return _DROP if fault == "drop_after_dot" else "250 2.0.0 Message accepted for delivery"


class FaultySMTP(SMTP):
    """aiosmtpd's SMTP with the faults aiosmtpd's handler hooks can't express."""

    plan: FaultPlan

    async def _handle_client(self) -> None:  # before the greeting
        # Not while Controller.start() checks that the server answers.
        fault = self.plan.draw(CONNECTION_FAULTS) if self.plan.armed else None
        if fault:
            self.plan.log(fault)
        if fault == "greeting_421":
            await self.push("421 4.3.2 Too busy, try again later (injected)")
            await self._close()
        elif fault == "greeting_stall":
            await self.push(_STALL)
        else:
            await super()._handle_client()

    async def smtp_DATA(self, arg: str) -> None:
        fault = getattr(self.session, "fault", None)
        envelope = self.envelope
        if fault == "drop_before_data" and envelope is not None and envelope.rcpt_tos:
            self.plan.log(fault, envelope.rcpt_tos)
            await self._close()
            return
        if fault == "drop_mid_data" and envelope is not None and envelope.rcpt_tos:
            self.plan.log(fault, envelope.rcpt_tos)
            await self.push("354 End data with <CR><LF>.<CR><LF>")
            for _ in range(3):  # part of the headers, then gone
                await self._reader.readuntil(b"\r\n")
            await self._close()
            return
        await super().smtp_DATA(arg)

    async def push(self, status: Any) -> None:
        if status == _DROP:
            await self._close()
        elif status == _STALL:
            try:
                await asyncio.sleep(self.plan.stall)
            finally:  # also when the server stops: its stop() waits for every connection
                await self._close()
        else:
            await super().push(status)

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        self.plan.connections.add(self)

    def connection_lost(self, error: Exception | None) -> None:
        self.plan.connections.discard(self)
        super().connection_lost(error)

    async def _close(self) -> None:
        """Close the connection and wait: ``connection_lost()`` cancels this handler.

        Returning instead would let ``_handle_client`` read what the client had
        already sent (the rest of the payload) as commands.
        """
        if self.transport is not None:
            self.transport.close()
            if asyncio.current_task() is self._handler_coroutine:
                await asyncio.Event().wait()


class _FaultyController(Controller):
    def factory(self) -> SMTP:
        server = FaultySMTP(self.handler, **self.SMTP_kwargs)
        server.plan = self.handler
        return server


class FaultySMTPServer:
    """Start with ``start()``; ``plan.received`` / ``plan.by_message_id`` say what arrived."""

    def __init__(self, *, rates: dict[str, float] | None = None, seed: int = 0,
                 latency: float = 0.0, stall: float = 3.0, rcpt_cap: int | None = None,
                 refuse: tuple[str, ...] = (), port: int | None = None,
                 record: str | None = None) -> None:
        self.plan = FaultPlan(rates=dict(rates or {}), seed=seed, latency=latency, stall=stall,
                              rcpt_cap=rcpt_cap, refuse=frozenset(refuse), record=record)
        self.port = port or free_port()
        self.controller = _FaultyController(self.plan, hostname="127.0.0.1", port=self.port)

    @property
    def received(self) -> list[Received]:
        return self.plan.received

    def mailer(self, timeout: float = 10) -> dict:
        """A MAILERS entry that sends here."""
        return {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": self.port, "timeout": timeout},
        }

    def start(self) -> "FaultySMTPServer":
        self.controller.start()
        self.plan.armed = True
        return self

    def stop(self) -> None:
        # asyncio's Server.wait_closed() (run by Controller.stop()) waits for every
        # client connection: close those still open (e.g. a worker's idle one).
        def close_all() -> None:
            for conn in list(self.plan.connections):
                if conn.transport is not None:
                    conn.transport.close()

        self.controller.loop.call_soon_threadsafe(close_all)
        self.controller.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.faulty_smtp", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--rates", default="", help=f"fault=rate,… (faults: {', '.join(FAULTS)})")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--stall", type=float, default=3.0)
    parser.add_argument("--rcpt-cap", type=int, default=None)
    parser.add_argument("--refuse", default="", help="addresses answered 550, comma-separated")
    parser.add_argument("--record", default=None, help="append accepted messages here (JSON lines)")
    args = parser.parse_args(argv)
    server = FaultySMTPServer(
        rates=parse_rates(args.rates), seed=args.seed, latency=args.latency, stall=args.stall,
        rcpt_cap=args.rcpt_cap, refuse=tuple(filter(None, args.refuse.split(","))),
        port=args.port, record=args.record,
    ).start()
    print(f"faulty SMTP server on 127.0.0.1:{server.port}", flush=True)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    server.stop()
    plan = server.plan
    print(json.dumps({"accepted": len(plan.received), "faults": dict(plan.counts())}), flush=True)


if __name__ == "__main__":
    main()
