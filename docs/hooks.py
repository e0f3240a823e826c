"""MkDocs hook: the reference pages' option tables, generated at build time.

Every table comes from a public command's own help, never from the package's modules, so the
pages follow the options wherever their code lives: `python -m pytest --help` (the tryon-suite
group), `tryon-suite --help` and each subcommand's, `tryon-mock --help`, and
`locust -f load/locustfile.py --tryon-help`. The clause catalogue comes from
`schemas/clauses.yaml`, the contract as data.

A page asks for a table with a marker line, `<!-- generated: NAME -->`; NAME is a key of
`GENERATORS`. The subcommands are the ones `tryon-suite --help` offers, so a new one gets its
section with nothing to add here. A command that fails or prints no options stops the build
with an error naming it: a silent empty page is worse than none.
"""

from __future__ import annotations

import html
import os
import re
import subprocess
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from mkdocs.exceptions import PluginError

#: Console scripts other than `tryon-suite` that get a section of their own.
SCRIPTS: tuple[str, ...] = ("tryon-mock",)

#: Help is wrapped at this width, so a build gives the same page on any terminal.
COLUMNS = "80"

#: Seconds one command may take before the build gives up on it.
TIMEOUT = 60

MARKER = re.compile(r"^<!-- generated: ([a-z-]+) -->$", re.MULTILINE)


# --- running the commands -----------------------------------------------------------------


def _script(name: str) -> Path:
    """A console script installed beside the Python running MkDocs."""
    bindir = Path(sys.executable).parent
    for candidate in (bindir / name, bindir / f"{name}.exe"):
        if candidate.exists():
            return candidate
    raise PluginError(
        f"expected the console script {name} beside {sys.executable}, found none: "
        "install the package into this environment (pip install -e '.[docs]')"
    )


def _run(label: str, argv: list[str], cwd: Path) -> str:
    """The standard output of a help command; a build error naming `label` if it fails."""
    env = dict(os.environ, COLUMNS=COLUMNS, NO_COLOR="1", PYTHON_COLORS="0", PYTEST_ADDOPTS="")
    try:
        done = subprocess.run(
            argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise PluginError(f"`{label}` could not run: {exc}") from None
    if done.returncode != 0 or not done.stdout.strip():
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-5:])
        raise PluginError(
            f"`{label}` failed: expected exit 0 and a help text, got exit {done.returncode}"
            f"{' and no output' if not done.stdout.strip() else ''}: {tail}"
        )
    return done.stdout


# --- reading argparse-style help ----------------------------------------------------------


@dataclass
class Entry:
    """One option or positional argument of a help text."""

    names: str
    help: str
    indent: int


@dataclass
class Section:
    """A titled group of entries, such as `options:`."""

    title: str
    entries: list[Entry] = field(default_factory=list)


@dataclass
class Help:
    """A help text cut into its parts."""

    usage: str = ""
    paragraphs_before: list[str] = field(default_factory=list)
    sections: list[Section] = field(default_factory=list)
    paragraphs_after: list[str] = field(default_factory=list)


def _blocks(text: str) -> list[list[str]]:
    blocks: list[list[str]] = [[]]
    for line in text.rstrip().splitlines():
        if line.strip():
            blocks[-1].append(line.rstrip())
        elif blocks[-1]:
            blocks.append([])
    return [b for b in blocks if b]


def parse_help(text: str) -> Help:
    """Cut an argparse (or pytest) help text into usage, prose and sections of entries."""
    parsed = Help()
    for block in _blocks(text):
        first = block[0]
        if first.startswith("usage:"):
            parsed.usage = "\n".join(block)
        elif first.endswith(":") and not first.startswith(" ") and len(block) > 1:
            section = Section(first[:-1])
            for line in block[1:]:
                indent = len(line) - len(line.lstrip())
                if indent >= 8 and section.entries:
                    entry = section.entries[-1]
                    entry.help = f"{entry.help} {line.strip()}".strip()
                    continue
                names, *rest = re.split(r"\s{2,}", line.strip(), maxsplit=1)
                section.entries.append(Entry(names, rest[0] if rest else "", indent))
            parsed.sections.append(section)
        else:
            paragraph = " ".join(line.strip() for line in block)
            (parsed.paragraphs_after if parsed.sections else parsed.paragraphs_before).append(
                paragraph
            )
    return parsed


# --- writing Markdown -----------------------------------------------------------------------


def _plain(value: str) -> str:
    value = html.escape(value, quote=False)
    return re.sub(r"([\\`*_\[\]|])", r"\\\1", value)


def _text(value: str) -> str:
    """Help text as Markdown that shows as written: `code` stays code (help texts quote commands
    so), everything else is escaped (no emphasis, tags or table breaks)."""
    parts = value.split("`")
    if len(parts) % 2 == 0:  # an unmatched backtick: no code at all
        return _plain(value)
    return "".join(_plain(part) if i % 2 == 0 else f"`{part}`" for i, part in enumerate(parts))


def _code(value: str) -> str:
    """An option's names as inline code, safe inside a table cell. A metavar that only repeats
    the option's name (argparse's default) is left out; a list of choices may wrap."""
    tokens = value.split(" ")
    if len(tokens) == 2 and tokens[1] == tokens[0].lstrip("-").replace("-", "_").upper():
        tokens = tokens[:1]
    out = []
    for token in tokens:
        text = html.escape(token, quote=False).replace("|", "&#124;")
        if token.startswith("{"):
            out.append(f'<code class="choices">{text.replace(",", ",<wbr>")}</code>')
        else:
            out.append(f"<code>{text}</code>")
    return " ".join(out)


def _table(headers: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _render_help(parsed: Help, *, links: dict[str, str] | None = None) -> str:
    """One command's help: usage as a block, prose as text, each section as a table."""
    out = [f"```text\n{parsed.usage}\n```"] if parsed.usage else []
    out += [_text(p) for p in parsed.paragraphs_before]
    for section in parsed.sections:
        rows = []
        for entry in section.entries:
            if entry.names in ("-h, --help", "-h") or (not entry.help and entry.indent == 2):
                continue  # every command takes -h; a subcommand group's own line says nothing
            name = _code(entry.names)
            if links and entry.names in links:
                name = f"[{name}](#{links[entry.names]})"
            rows.append((name, _text(entry.help)))
        if rows:
            title = section.title[:1].upper() + section.title[1:]
            out.append(f"**{_text(title)}**\n\n" + _table(("argument", "meaning"), rows))
    out += [_text(p) for p in parsed.paragraphs_after]
    return "\n\n".join(out)


def _anchor(command: str) -> str:
    return command.replace(" ", "-")


# --- the generators -------------------------------------------------------------------------


def _subcommands_offered(parsed: Help) -> list[str]:
    """The subcommands `tryon-suite --help` lists (entries nested under the command group)."""
    offered = []
    for section in parsed.sections:
        offered += [
            e.names for e in section.entries if e.indent > 2 and not e.names.startswith("-")
        ]
    if not offered:
        raise PluginError("`tryon-suite --help` offered no subcommand: expected mock, diff, ...")
    return offered


def command_line(root: Path) -> str:
    """Every tool's command line, from each one's --help."""
    suite = str(_script("tryon-suite"))
    top = parse_help(_run("tryon-suite --help", [suite, "--help"], root))
    subcommands = _subcommands_offered(top)
    jobs: dict[str, list[str]] = {
        f"tryon-suite {sub}": [suite, sub, "--help"] for sub in subcommands
    }
    jobs |= {script: [str(_script(script)), "--help"] for script in SCRIPTS}
    with ThreadPoolExecutor(max_workers=8) as pool:
        futures = {
            label: pool.submit(_run, f"{label} --help", argv, root) for label, argv in jobs.items()
        }
        texts = {label: future.result() for label, future in futures.items()}

    links = {sub: _anchor(f"tryon-suite {sub}") for sub in subcommands}
    out = ["## tryon-suite {#tryon-suite}", _render_help(top, links=links)]
    labels = list(jobs)
    for i, label in enumerate(labels):
        parsed = parse_help(texts[label])
        if not parsed.sections:
            raise PluginError(f"`{label} --help` printed no options: expected at least -h")
        same = [other for other in labels[:i] if texts[other] == texts[label]]
        if label in SCRIPTS and same:  # a short name of a subcommand: say so, once
            body = f"A short name of [`{same[0]}`](#{_anchor(same[0])}): the same options."
        else:
            body = _render_help(parsed)
        out += [f"## {label} {{#{_anchor(label)}}}", body]
    return "\n\n".join(out)


def _tryon_entries(text: str, label: str) -> list[Entry]:
    entries = [
        entry
        for section in parse_help(text).sections
        for entry in section.entries
        if entry.names.startswith("--tryon-")
    ]
    if not entries:
        raise PluginError(f"`{label}` printed no --tryon-* option: expected the suite's options")
    return entries


def pytest_options(root: Path) -> str:
    """The tryon-suite group of `python -m pytest --help`, with each option's variable."""
    label = "python -m pytest --help"
    text = _run(label, [sys.executable, "-m", "pytest", "--help", "-p", "no:cacheprovider"], root)
    rows = []
    for entry in _tryon_entries(text, label):
        meaning, _, env = entry.help.rpartition("; env ")
        if not meaning:
            meaning, env = entry.help, ""
        option = _code(entry.names) + (f"<br><code>{env}</code>" if env else "")
        rows.append((option, _text(meaning)))
    return _table(("option and environment variable", "meaning"), rows)


def locust_options(root: Path) -> str:
    """The --tryon-* lines of `locust -f load/locustfile.py --tryon-help`."""
    label = "locust -f load/locustfile.py --tryon-help"
    argv = [str(_script("locust")), "-f", "load/locustfile.py", "--tryon-help"]
    rows = [(_code(e.names), _text(e.help)) for e in _tryon_entries(_run(label, argv, root), label)]
    return _table(("option", "meaning"), rows)


def clauses(root: Path) -> str:
    """The clause catalogue, grouped by area, from schemas/clauses.yaml."""
    path = root / "schemas" / "clauses.yaml"
    try:
        catalogue: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
        entries: list[dict[str, Any]] = catalogue["clauses"]
    except (OSError, yaml.YAMLError, KeyError, TypeError) as exc:
        raise PluginError(f"expected the clause catalogue in {path}, got {exc!r}") from None
    areas: dict[str, list[dict[str, Any]]] = {}
    for clause in entries:
        area = clause["id"].split(".")[1] if clause["id"].count(".") >= 2 else clause["id"]
        areas.setdefault(area, []).append(clause)
    out = [f"{len(entries)} clauses in {len(areas)} areas."]
    for area, group in areas.items():
        rows = []
        for clause in group:
            text = _text(" ".join(str(clause.get("text", "")).split()))
            if clause.get("notes"):
                text += "<br>*" + _text(" ".join(str(clause["notes"]).split())) + "*"
            checkable = "" if clause.get("checkable", True) else " (not checkable)"
            rows.append((f"`{clause['id']}`", f"{clause.get('level', '')}{checkable}", text))
        out += [f"## {area} {{#{area}}}", _table(("id", "level", "statement"), rows)]
    return "\n\n".join(out)


GENERATORS: dict[str, Callable[[Path], str]] = {
    "command-line": command_line,
    "pytest-options": pytest_options,
    "locust-options": locust_options,
    "clauses": clauses,
}

_made: dict[str, str] = {}


# --- MkDocs events --------------------------------------------------------------------------


def on_pre_build(config: Any, **kwargs: Any) -> None:
    """Run every generator once per build, side by side (each starts Python processes)."""
    root = Path(config["config_file_path"]).resolve().parent
    _made.clear()
    with ThreadPoolExecutor(max_workers=len(GENERATORS)) as pool:
        futures = {name: pool.submit(make, root) for name, make in GENERATORS.items()}
        for name, future in futures.items():
            _made[name] = future.result()


def on_page_markdown(markdown: str, page: Any, **kwargs: Any) -> str:
    """Put each generated table where its page's marker asks for it."""

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in _made:
            raise PluginError(
                f"{page.file.src_uri} asks for a generated table {name!r}: expected one of "
                f"{sorted(GENERATORS)}"
            )
        return _made[name]

    return MARKER.sub(fill, markdown)
