"""A lean SMTP relay for the benchmarks: ``python -m tests.bench.relay PORT LATENCY``.

A remote server's CPU is not the sender's machine's; aiosmtpd reads DATA a line at a
time in Python and spent ~5 ms of CPU on each 45 KB message, so at ~200 messages/s it
took a whole core of this 2-core machine from the workers it measured (two workers at
10 connections each were bounded by it, not by their own CPU). This relay speaks the
part of SMTP a sender uses (EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT), reads a
message's data in one C-level search for its end, and answers each DATA after
``LATENCY`` seconds, connections served concurrently (asyncio). It accepts every
message and keeps none; ``serve()``'s ``on_message`` sees each (the bulk benchmark
keeps its floor's samples so). The tests use aiosmtpd, which checks the protocol.
"""

import asyncio
import signal
import sys
from collections.abc import Callable

LIMIT = 64 * 1024 * 1024  # the largest message it reads
END_OF_DATA = b"\r\n.\r\n"
REPLIES = {
    b"MAIL": b"250 OK\r\n",
    b"RCPT": b"250 OK\r\n",
    b"RSET": b"250 OK\r\n",
    b"NOOP": b"250 OK\r\n",
    b"HELO": b"250 relay\r\n",
    b"EHLO": b"250-relay\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n",
}


OnMessage = Callable[[str, list[str], bytes], None]


def _address(line: bytes) -> str:
    """The address in ``MAIL FROM:<a>`` or ``RCPT TO:<a>``."""
    start, end = line.find(b"<"), line.find(b">")
    return line[start + 1:end].decode("utf-8", "replace") if 0 <= start < end else ""


def unstuffed(data: bytes) -> bytes:
    """A message's data as sent (its end marker dropped, its dots unstuffed)."""
    data = data[:-3]  # ".\r\n": the data keeps its last line's CRLF
    data = data.replace(b"\r\n..", b"\r\n.")
    return data[1:] if data.startswith(b"..") else data


async def session(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                  latency: float, on_message: OnMessage | None = None) -> None:
    writer.write(b"220 relay ESMTP\r\n")
    sender, recipients = "", list[str]()
    try:
        while line := await reader.readline():
            verb = line[:4].upper()
            if verb == b"DATA":
                writer.write(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                await writer.drain()
                # smtplib sends the data and its end in one piece: a message
                # (never empty: it has headers) ends in CRLF "." CRLF.
                data = await reader.readuntil(END_OF_DATA)
                if on_message is not None:
                    on_message(sender, recipients, unstuffed(data))
                await asyncio.sleep(latency)
                writer.write(b"250 OK queued\r\n")
                sender, recipients = "", []
            elif verb == b"QUIT":
                writer.write(b"221 Bye\r\n")
                await writer.drain()
                break
            else:
                if verb == b"MAIL":
                    sender, recipients = _address(line), []
                elif verb == b"RCPT":
                    recipients.append(_address(line))
                writer.write(REPLIES.get(verb, b"500 Command not recognized\r\n"))
            await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError):
        pass  # a sender that went away
    finally:
        writer.close()


async def serve(port: int, latency: float, on_message: OnMessage | None = None,
                ready: Callable[[], None] | None = None) -> None:
    """Serve until SIGTERM or SIGINT; ``on_message(sender, recipients, data)`` per message."""
    server = await asyncio.start_server(lambda r, w: session(r, w, latency, on_message),
                                        "127.0.0.1", port, limit=LIMIT)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    async with server:
        if ready is not None:
            ready()
        await stop.wait()


if __name__ == "__main__":
    asyncio.run(serve(int(sys.argv[1]), float(sys.argv[2])))
