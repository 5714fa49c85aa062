"""Finding the submissions: the command line's files and folders -> (student, notebook number, file).

Naming rule (see :func:`find_submissions`):

- the notebook is the course notebook whose two-digit number ``NN`` stands at the start of the
  file stem or after a separator (``02_vanilla_gan.ipynb``, ``bob_02.ipynb``,
  ``02_vanilla_gan-bob.ipynb``), or the one given with ``--notebook NN``;
- below a folder given on the command line, a notebook inside a subfolder ``S/`` belongs to
  student ``S``; a notebook directly in the folder (or given as a file) belongs to the student
  its stem names once the notebook part is removed (``bob_02`` -> ``bob``), else to the folder.

A file whose notebook cannot be told (no number, two numbers, a number without grading tests)
and two files of the same student and notebook are skipped with a reported error.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

SEPARATORS = "_-. "
# NN (or NN plus one letter, for a notebook in parts: 08a, 08b) at the start or after a separator
_NUMBER = re.compile(r"(?<![0-9A-Za-z])(\d{2}(?:[a-z](?![A-Za-z]))?)(?!\d)")


@dataclass(frozen=True)
class Submission:
    """One student's notebook to grade."""

    student: str
    number: str
    path: Path


@dataclass(frozen=True)
class Skipped:
    """An input that was not graded, and why."""

    path: str
    error: str


def notebook_number(stem: str, known: Collection[str]) -> str:
    """The course notebook number ``NN`` named by a file stem.

    Raises:
        ValueError: no number, several different numbers, or a number without grading tests.
    """
    numbers = sorted(set(_NUMBER.findall(stem)))
    if not numbers:
        raise ValueError("cannot tell which notebook this is: put its number first or after a separator "
                         "(02_vanilla_gan.ipynb, bob_02.ipynb), or pass --notebook NN")
    if len(numbers) > 1:
        raise ValueError(f"ambiguous: the name holds the notebook numbers {', '.join(numbers)}; "
                         "rename it or pass --notebook NN")
    if numbers[0] not in known:
        raise ValueError(f"notebook {numbers[0]} has no grading tests (known: {', '.join(sorted(known))})")
    return numbers[0]


def _student_from_stem(stem: str, number: str, course_name: str) -> str:
    """What is left of a stem once the notebook part (its course name, else its number) is removed."""
    lowered = stem.lower()
    at = lowered.find(course_name.lower())
    if at >= 0:
        rest = stem[:at] + " " + stem[at + len(course_name):]
    else:
        match = next((m for m in _NUMBER.finditer(stem) if m.group(1) == number), None)
        rest = stem[:match.start()] + " " + stem[match.end():] if match else stem
    return re.sub(rf"[{re.escape(SEPARATORS)}]+", "_", rest).strip("_")


def _notebook_files(folder: Path) -> list[Path]:
    """Every ``.ipynb`` below a folder, hidden folders (``.ipynb_checkpoints``) left out."""
    return sorted(p for p in folder.rglob("*.ipynb")
                  if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts))


def find_submissions(paths: list[str | Path], known: dict[str, str], notebook: str | None = None,
                     ) -> tuple[list[Submission], list[Skipped]]:
    """Turn the command line's files and folders into submissions, following the naming rule.

    Args:
        paths: files (``.ipynb``) and folders of student notebooks.
        known: notebook number -> course notebook name (``"02" -> "02_vanilla_gan"``).
        notebook: ``NN`` forced for every file (``--notebook``), or None to read it from the names.

    Returns:
        The submissions, sorted by student and notebook, and the inputs skipped with the reason.
    """
    candidates: list[tuple[Path, Path]] = []  # (file, the folder it was found below)
    skipped: list[Skipped] = []
    for given in map(Path, paths):
        if given.is_dir():
            candidates += [(f, given) for f in _notebook_files(given)]
        elif given.is_file() and given.suffix == ".ipynb":
            candidates.append((given, given.parent))
        else:
            skipped.append(Skipped(str(given), "not a notebook (.ipynb) or a folder"))
    found: dict[tuple[str, str], list[Path]] = {}
    seen: set[Path] = set()
    for path, base in candidates:
        if path.resolve() in seen:  # the same file given twice (as a file and inside a folder)
            continue
        seen.add(path.resolve())
        try:
            number = notebook or notebook_number(path.stem, known)
        except ValueError as e:
            skipped.append(Skipped(str(path), str(e)))
            continue
        inside = path.parent.relative_to(base).parts
        base_name = base.resolve().name
        student = inside[0] if inside else (_student_from_stem(path.stem, number, known[number]) or base_name)
        found.setdefault((student, number), []).append(path)
    submissions = []
    for (student, number), files in sorted(found.items()):
        if len(files) > 1:
            names = ", ".join(map(str, files))
            skipped += [Skipped(str(f), f"student {student!r} has {len(files)} files for notebook {number}: {names}")
                        for f in files]
        else:
            submissions.append(Submission(student, number, files[0]))
    return submissions, skipped
