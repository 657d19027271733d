"""Refresh the caniemail snapshot: ``python -m txmail.quality.refresh [CHECKOUT]``.

Reads the front matter of caniemail's ``_features/*.md`` (a local checkout of
https://github.com/hteumeuleu/caniemail, or its GitHub archive when no path is
given) and writes ``txmail/quality/data/caniemail.json``: per feature, the
support of each ``family.platform`` at its latest tested version, with the notes.
The licence (MIT) is copied beside it. Never run by the checks themselves.
"""

import argparse
import io
import json
import re
import sys
import tarfile
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

DATA_DIR = Path(__file__).resolve().parent / "data"
SNAPSHOT = DATA_DIR / "caniemail.json"
LICENCE = DATA_DIR / "caniemail-LICENSE.txt"
SOURCE = "https://github.com/hteumeuleu/caniemail"
ARCHIVE = SOURCE + "/archive/refs/heads/main.tar.gz"

# -- caniemail's front matter ------------------------------------------------------------
# Jekyll reads it as YAML (Ruby's lenient Psych: tabs, trailing commas); the
# stats and notes are flow mappings, so a small tokenizer reads them exactly.

_TOKEN = re.compile(r"""\s*(?:(?P<punct>[{}:,])|"(?P<dq>(?:[^"\\]|\\.)*)"|'(?P<sq>(?:[^']|'')*)'"""
                    r"""|(?P<bare>[^\s{}:,"'][^{}:,\n]*?(?=\s*(?:[{}:,]|\n|$))))""", re.S)


def _tokens(text: str) -> Iterator[tuple[str, str]]:
    pos = 0
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos >= len(text):
            return
        match = _TOKEN.match(text, pos)
        if match is None:
            raise ValueError(f"Can't read caniemail front matter at {text[pos:pos + 40]!r}.")
        pos = match.end()
        if match["punct"]:
            yield "punct", match["punct"]
        elif match["dq"] is not None:
            yield "str", json.loads(f'"{match["dq"]}"'.replace("\t", "\\t"))
        elif match["sq"] is not None:
            yield "str", match["sq"].replace("''", "'")
        else:
            yield "str", match["bare"].strip()


def _flow(tokens: list[tuple[str, str]], i: int) -> tuple[Any, int]:
    """Read one value at ``tokens[i]``: a ``{...}`` mapping or a scalar."""
    if tokens[i] != ("punct", "{"):
        return tokens[i][1], i + 1
    mapping: dict[str, Any] = {}
    i += 1
    while tokens[i] != ("punct", "}"):
        if tokens[i] == ("punct", ","):
            i += 1
            continue
        key = tokens[i][1]
        if tokens[i + 1] != ("punct", ":"):
            raise ValueError(f"Expected ':' after {key!r} in caniemail front matter.")
        mapping[key], i = _flow(tokens, i + 2)
    return mapping, i + 1


_KEYS = ("title", "description", "category", "keywords", "tags", "last_test_date", "test_url",
         "test_results_url", "test_url_result", "stats", "notes", "notes_by_num", "links",
         "code_sample")
_KEY = re.compile(rf"^({'|'.join(_KEYS)}):[ \t]*(.*?)(?=^(?:{'|'.join(_KEYS)}):|\Z)",
                  re.M | re.S)


def front_matter(text: str) -> dict[str, Any]:
    """The front matter of one ``_features/*.md`` file, as plain dicts and strings."""
    _, _, rest = text.partition("---")
    block, _, _ = rest.partition("\n---")
    found: dict[str, Any] = {}
    for match in _KEY.finditer(block):
        key, value = match[1], match[2].strip()
        if value.startswith("{"):
            found[key] = _flow(list(_tokens(value)), 0)[0]
        elif value[:1] in "\"'" and value:
            found[key] = next(_tokens(value))[1]
        else:
            found[key] = value
    return found


def feature(slug: str, text: str) -> dict[str, Any]:
    """One feature, reduced to what the checks read: the latest result per platform.

    A result keeps caniemail's spelling: ``"y"``, ``"n"``, ``"a #2"`` (partial,
    see note 2), ``"u"`` (unknown).
    """
    matter = front_matter(text)
    support: dict[str, str] = {}
    for family, platforms in (matter.get("stats") or {}).items():
        for platform, versions in (platforms or {}).items():
            if versions:
                # Versions are listed oldest first; the last is the current client.
                support[f"{family}.{platform}"] = " ".join(list(versions.values())[-1].split())
    notes = matter.get("notes_by_num") or {}
    used = {mark.lstrip("#") for value in support.values() for mark in value.split()[1:]}
    return {
        "title": matter.get("title", slug),
        "category": matter.get("category", ""),
        "tested": matter.get("last_test_date", ""),
        "note": matter.get("notes", ""),
        "notes": {num: note for num, note in notes.items() if num in used},
        "support": support,
    }


def build(files: dict[str, str], *, commit: str = "", date: str = "") -> dict[str, Any]:
    """The snapshot for ``{slug: markdown}`` (``_template`` is caniemail's skeleton)."""
    return {
        "source": SOURCE,
        "licence": "MIT, Copyright (c) 2019 Rémi Parmentier; see caniemail-LICENSE.txt",
        "commit": commit,
        "date": date or datetime.now(UTC).date().isoformat(),
        "features": {slug: feature(slug, text) for slug, text in sorted(files.items())
                     if not slug.startswith("_")},
    }


# -- where the files come from -------------------------------------------------------------


def read_checkout(root: Path) -> tuple[dict[str, str], str]:
    files = {path.stem: path.read_text(encoding="utf-8")
             for path in sorted((root / "_features").glob("*.md"))}
    if not files:
        raise SystemExit(f"{root} has no _features/*.md: pass a caniemail checkout.")
    licence = (root / "LICENSE").read_text(encoding="utf-8")
    return files, licence


def read_archive(url: str = ARCHIVE) -> tuple[dict[str, str], str, str]:
    """``(files, licence, commit)`` of caniemail's GitHub archive at ``url``.

    GitHub names the archive's commit in its pax header (the snapshot records it).
    """
    with urllib.request.urlopen(url, timeout=60) as response:
        data = response.read()
    files, licence = {}, ""
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
        commit = str(archive.pax_headers.get("comment", "")).strip()
        for member in archive.getmembers():
            parts = member.name.split("/")
            extracted = archive.extractfile(member) if member.isfile() else None
            if extracted is None:
                continue
            if len(parts) == 3 and parts[1] == "_features" and parts[2].endswith(".md"):
                files[parts[2].removesuffix(".md")] = extracted.read().decode("utf-8")
            elif parts[1:] == ["LICENSE"]:
                licence = extracted.read().decode("utf-8")
    return files, licence, commit if re.fullmatch(r"[0-9a-f]{40}", commit) else ""


def write(snapshot: dict[str, Any], licence: str, directory: Path = DATA_DIR) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / SNAPSHOT.name
    path.write_text(json.dumps(snapshot, ensure_ascii=False, separators=(",", ":"),
                               sort_keys=True) + "\n", encoding="utf-8")
    (directory / LICENCE.name).write_text(licence, encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m txmail.quality.refresh",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("checkout", nargs="?", type=Path,
                        help="A local caniemail checkout (default: download the archive).")
    parser.add_argument("--commit", default="", help="The checkout's commit, recorded.")
    parser.add_argument("--date", default="", help="The snapshot's date (default: today).")
    parser.add_argument("--output", type=Path, default=DATA_DIR,
                        help="Directory to write caniemail.json and its licence to.")
    args = parser.parse_args(argv)
    commit = args.commit
    if args.checkout:
        files, licence = read_checkout(args.checkout)
    else:
        files, licence, found = read_archive()
        commit = commit or found
    snapshot = build(files, commit=commit, date=args.date)
    path = write(snapshot, licence, args.output)
    print(f"Wrote {len(snapshot['features'])} features to {path}.", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
