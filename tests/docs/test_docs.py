"""Every ```python block in README.md and docs/**/*.md runs, and prints what the docs say it prints.

Conventions (stated in docs/README.md):

* The ```python blocks of one Markdown file run in order in one shared namespace (a later block
  may use names from an earlier one), in a temporary working directory, with matplotlib's Agg
  backend. A block whose fence is ```python no-run is shown but not run (use it sparingly).
* A ```text block (or a ```dot block, as in docs/graphs.md) that *directly* follows a ```python
  block (only blank lines between) is that block's output: the printed text must match it,
  up to whitespace (trailing spaces, runs of spaces and blank lines at either end are ignored).
* Nothing is downloaded: a block that needs the MNIST data runs when the data are on disk
  (``MNIST_DIR`` / ``FASHION_MNIST_DIR``, the cache, or this project's ``../shared/data``) and
  the rest of its file is skipped otherwise.

When a doc's output changes on purpose (an op's docstring was reworded, say), rewrite the output
blocks of that file from a fresh run with

    python tests/docs/test_docs.py --update docs/tour/02-vjps.md

and review the diff.
"""
from __future__ import annotations

import contextlib
import io
import os
import re
import shutil
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
TOUR = DOCS / "tour"
OUTPUT_LANGS = ("text", "dot")
FENCE = re.compile(r"^(`{3,})([^`\n]*)$")


# ----------------------------------------------------------------------------- parsing
@dataclass
class Block:
    lang: str  # first word of the info string ("python", "text", "" ...)
    flags: tuple[str, ...]  # the rest of the info string ("no-run")
    code: str
    line: int  # 1-based line of the opening fence
    end: int  # 1-based line of the closing fence
    follows_directly: bool = False  # only blank lines since the previous block's closing fence


def parse_blocks(text: str) -> list[Block]:
    """The fenced code blocks of a Markdown text (fences at column 0, ``` or longer)."""
    blocks: list[Block] = []
    lines = text.splitlines()
    i, last_end = 0, None
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        ticks, info = m.group(1), m.group(2).split()
        start = i
        j = i + 1
        while j < len(lines) and not (lines[j].startswith(ticks) and lines[j].strip() == ticks):
            j += 1
        between = lines[last_end + 1:start] if last_end is not None else ["x"]
        blocks.append(Block(
            lang=info[0].lower() if info else "", flags=tuple(info[1:]),
            code="\n".join(lines[start + 1:j]) + "\n", line=start + 1, end=j + 1,
            follows_directly=all(not s.strip() for s in between),
        ))
        last_end = j
        i = j + 1
    return blocks


@dataclass
class Snippet:
    block: Block
    expected: Block | None  # the output block right after it, if any


def snippets(path: Path) -> list[Snippet]:
    blocks = parse_blocks(path.read_text(encoding="utf-8"))
    out = []
    for k, b in enumerate(blocks):
        if b.lang != "python":
            continue
        nxt = blocks[k + 1] if k + 1 < len(blocks) else None
        expected = nxt if nxt is not None and nxt.lang in OUTPUT_LANGS and nxt.follows_directly else None
        out.append(Snippet(b, expected))
    return out


def normalize(text: str) -> str:
    """Whitespace-insensitive form: runs of blanks -> one space, no trailing blanks, no blank ends."""
    lines = [re.sub(r"[ \t]+", " ", line).strip() for line in text.splitlines()]
    return "\n".join(lines).strip("\n")


def doc_files() -> list[Path]:
    return [ROOT / "README.md", *sorted(DOCS.rglob("*.md"))]


def _rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


# ----------------------------------------------------------------------------- running
class DataUnavailable(Exception):
    """A snippet needs a data set that is not on disk (downloads are disabled here)."""


@contextlib.contextmanager
def doc_environment(tmp: Path):
    """Temp working directory, Agg backend, no downloads, local data sets if present."""
    saved_env = {k: os.environ.get(k) for k in ("MPLBACKEND", "MNIST_DIR", "FASHION_MNIST_DIR")}
    os.environ["MPLBACKEND"] = "Agg"
    shared = ROOT.parent / "shared" / "data"
    for var, name in (("MNIST_DIR", "mnist"), ("FASHION_MNIST_DIR", "fashion-mnist")):
        if not os.environ.get(var) and (shared / name).is_dir():
            os.environ[var] = str(shared / name)
    try:
        import matplotlib
        matplotlib.use("Agg", force=True)
    except ImportError:  # pragma: no cover - matplotlib is a dependency
        pass
    from mnist.data import sources

    def no_download(name, *args, **kwargs):
        raise sources.DatasetNotFoundError(f"{name} is not on disk and the docs test never downloads")

    saved_download = sources.download_dataset
    sources.download_dataset = no_download
    cwd = os.getcwd()
    os.chdir(tmp)
    try:
        yield
    finally:
        os.chdir(cwd)
        sources.download_dataset = saved_download
        for k, v in saved_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        try:
            import matplotlib.pyplot as plt
            plt.close("all")
        except ImportError:  # pragma: no cover
            pass


def run_snippet(snippet: Snippet, namespace: dict, path: Path) -> str:
    """Execute one block in ``namespace``; return what it printed. Tracebacks point at the
    Markdown file's own line numbers."""
    from mnist.data.sources import DatasetNotFoundError

    b = snippet.block
    source = "\n" * b.line + b.code  # line k of the block is line (b.line + k) of the file
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. gradcheck's "float32 is only a smoke test"
            exec(compile(source, str(path), "exec"), namespace)
    except DatasetNotFoundError as e:
        raise DataUnavailable(str(e).splitlines()[0]) from None
    return out.getvalue()


def run_file(path: Path, tmp: Path) -> list[tuple[Snippet, str]]:
    """Run every block of ``path`` in order; return (snippet, printed output) pairs."""
    results = []
    namespace: dict = {"__name__": "__docs__"}
    with doc_environment(tmp):
        for s in snippets(path):
            if "no-run" in s.block.flags:
                continue
            results.append((s, run_snippet(s, namespace, path)))
    return results


# ----------------------------------------------------------------------------- tests
DOC_FILES = [p for p in doc_files() if snippets(p)]  # docs without python blocks have nothing to run


@pytest.mark.parametrize("path", DOC_FILES, ids=[_rel(p) for p in DOC_FILES])
def test_doc_snippets_run_and_print_what_the_doc_shows(path, tmp_path):
    try:
        results = run_file(path, tmp_path)
    except DataUnavailable as e:
        pytest.skip(f"needs a data set that is not on disk: {e}")
    for s, printed in results:
        if s.expected is not None:
            where = f"{_rel(path)}:{s.block.line} (output block at line {s.expected.line})"
            assert normalize(printed) == normalize(s.expected.code), (
                f"{where}: printed output differs from the doc\n--- printed ---\n{printed}"
                f"--- doc ---\n{s.expected.code}")


TOUR_FILES = sorted(TOUR.glob("*.md"))


def test_tour_exists_and_every_tour_snippet_with_output_is_checked():
    assert len(TOUR_FILES) >= 5, "docs/tour/ should hold the five chapters"
    for path in TOUR_FILES:
        snips = snippets(path)
        assert snips, f"{_rel(path)} has no python block"
        assert any(s.expected is not None for s in snips), f"{_rel(path)} shows no checked output"
        for s in snips:
            assert "no-run" not in s.block.flags, f"{_rel(path)}:{s.block.line}: tour snippets all run"


LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s#]+)(?:#([^)\s]*))?\)")


def github_anchors(path: Path) -> set[str]:
    """The anchors GitHub generates for the headings of a Markdown file."""
    anchors = set()
    in_code = False
    for line in path.read_text(encoding="utf-8").splitlines():
        if FENCE.match(line):
            in_code = not in_code
        elif not in_code and (m := re.match(r"^#{1,6}\s+(.*?)\s*#*$", line)):
            slug = re.sub(r"[^\w\- ]", "", m.group(1).strip().lower()).replace(" ", "-")
            anchors.add(slug)
    return anchors


@pytest.mark.parametrize("path", [DOCS / "README.md", *TOUR_FILES], ids=lambda p: _rel(p))
def test_tour_links_and_figures_exist(path):
    """Relative links of the tour resolve (anchors too); figures are commit-sized."""
    for target, anchor in LINK.findall(path.read_text(encoding="utf-8")):
        if re.match(r"^[a-z]+:", target):  # http:, https:, mailto:
            continue
        resolved = (path.parent / target).resolve()
        assert resolved.exists(), f"{_rel(path)} links to missing {target}"
        if anchor and resolved.suffix == ".md":
            assert anchor in github_anchors(resolved), f"{_rel(path)} links to missing {target}#{anchor}"
        if resolved.suffix in (".png", ".svg"):
            assert resolved.stat().st_size < 200_000, f"{target} is over 200 KB"


def test_docs_index_links_every_doc():
    index = (DOCS / "README.md").read_text(encoding="utf-8")
    linked = {(DOCS / t).resolve() for t, _ in LINK.findall(index) if not re.match(r"^[a-z]+:", t)}
    for path in sorted(DOCS.rglob("*.md")):
        if path.name != "README.md":
            assert path.resolve() in linked, f"docs/README.md does not link {_rel(path)}"


def test_block_parser():
    text = "\n".join([
        "# t", "```python", "print(1)", "```", "", "```text", "1", "```", "prose",
        "```python no-run", "x", "```", "between", "```text", "not output", "```",
        "````python", "print('```')", "````",
    ])
    snips = snippets_from_text(text)
    assert [s.block.code for s in snips] == ["print(1)\n", "x\n", "print('```')\n"]
    assert snips[0].expected.code == "1\n" and snips[0].block.line == 2
    assert snips[1].block.flags == ("no-run",) and snips[1].expected is None
    assert normalize("\n  a   b  \n\n c\t\n\n") == "a b\n\nc"


def snippets_from_text(text: str) -> list[Snippet]:
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "x.md"
        p.write_text(text, encoding="utf-8")
        return snippets(p)


@pytest.mark.skipif(not shutil.which("dot"), reason="Graphviz's dot is not installed")
def test_make_figures_regenerates_the_tour_figures(tmp_path):
    import importlib.util
    spec = importlib.util.spec_from_file_location("make_figures", DOCS / "make_figures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with contextlib.redirect_stdout(io.StringIO()):
        module.main(["--out", str(tmp_path)])
    for name in ("tour_graph.svg", "tour_mlp_graph.svg"):
        made = (tmp_path / name).read_text(encoding="utf-8")
        assert "<svg" in made and (DOCS / "figures" / name).exists()
        assert "|grad| = 0.8945" in made or name != "tour_graph.svg"  # chapter 1's x̄


# ----------------------------------------------------------------------------- --update
def update(path: Path) -> int:
    """Rewrite the output blocks of ``path`` with what its snippets print now; returns the count."""
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        results = run_file(path, Path(d))
    lines = path.read_text(encoding="utf-8").splitlines()
    changed = 0
    for s, printed in reversed(results):  # bottom-up keeps earlier line numbers valid
        if s.expected is None:
            continue
        new = printed.rstrip("\n").splitlines()
        old = lines[s.expected.line:s.expected.end - 1]
        if new != old:
            lines[s.expected.line:s.expected.end - 1] = new
            changed += 1
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return changed


if __name__ == "__main__":
    args = sys.argv[1:]
    if not args or args[0] != "--update" or len(args) < 2:
        sys.exit("usage: python tests/test_docs.py --update FILE.md [FILE.md ...]")
    sys.path.insert(0, str(ROOT))
    for name in args[1:]:
        p = Path(name).resolve()
        print(f"{name}: {update(p)} output block(s) rewritten")
