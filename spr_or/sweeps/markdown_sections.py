"""A generated section of a hand-written markdown file: ``spr-or report --into docs/study.md`` puts
the report of a sweep between two marker lines named after the sweep, and leaves everything else of
the file as it was, so that the prose around the tables is written by hand and the tables never are.

    <!-- BEGIN spr-or report study2_digits -->
    ... replaced by each `spr-or report runs/study2_digits --into docs/study.md` ...
    <!-- END spr-or report study2_digits -->
"""

from __future__ import annotations

from pathlib import Path

from spr_core.errors import InvalidArgument, MissingInput

from ..atomic_files import write_text_atomically


def markers(name: str) -> tuple[str, str]:
    """The begin and end marker lines of the section ``name``."""
    return f"<!-- BEGIN spr-or report {name} -->", f"<!-- END spr-or report {name} -->"


def replace_section(path, name: str, body: str) -> None:
    """Replace what lies between the markers of ``name`` in the markdown file ``path`` with ``body``
    (atomically; the marker lines are kept).

    Raises
    ------
    MissingInput
        ``path`` does not exist.
    InvalidArgument
        The file does not hold each marker exactly once, in order.
    """
    path = Path(path)
    if not path.is_file():
        raise MissingInput(f"--into: {path} does not exist")
    text = path.read_text()
    begin, end = markers(name)
    counts = (text.count(begin), text.count(end))
    if counts != (1, 1) or text.index(begin) > text.index(end):
        raise InvalidArgument(f"--into: {path} must hold the line {begin!r} once and, after it, the line {end!r} "
                              f"once (found {counts[0]} and {counts[1]}); add them where the report should go")
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    write_text_atomically(path, f"{head}{begin}\n{body.strip()}\n{end}{tail}")
