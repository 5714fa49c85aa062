"""Execute course notebooks with papermill: ``python -m ganlib course run``.

Each notebook runs top to bottom in a fresh kernel, with ``PROFILE`` (and optionally ``DEVICE``,
``SEED`` or any other name) injected through its cell tagged ``parameters``, and is written with
its outputs to an output folder. A failing notebook does not stop the others: its error names
the notebook and the cell, and the command exits non-zero after a summary table.

The kernel runs in the notebook's own folder, as in Jupyter, with ``GANLIB_RUNS`` pointed at
``OUT/runs`` (unless already set), so training checkpoints stay with the executed notebooks and
running again into the same folder resumes them.

Nothing else in ganlib imports this module; only the CLI does.
"""

from __future__ import annotations

import ast
import os
import re
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import nbformat

from ganlib.checks import OUTCOMES
from ganlib.config import RUNS_ENV

__all__ = ["NotebookResult", "Verdict", "find_notebooks", "parse_parameter", "parse_seeds", "read_verdicts",
           "run_notebook", "run_notebooks", "seeds_report", "summary_table", "verdict_report", "main_run"]

PARAMETERS_TAG = "parameters"


@dataclass(frozen=True)
class Verdict:
    """One claim of a reading, as the run's own numbers judged it (a ``VERDICT`` line of ``ganlib.checks.verdict``)."""

    cell: int  # index of the code cell that printed it, in the source notebook
    outcome: str  # held, not held, within noise or not judged (ganlib.checks.OUTCOMES)
    claim: str  # the claim and its evidence, as printed
    meaning: str = ""  # the reading printed under it for this outcome, if any

    @property
    def held(self) -> bool:
        return self.outcome == "held"

    @property
    def statement(self) -> str:
        """The claim without its trailing ``(effect; evidence)``, the same in every seed's run."""
        text = self.claim
        if text.endswith(")"):
            depth = 0
            for i in range(len(text) - 1, -1, -1):
                depth += {")": 1, "(": -1}.get(text[i], 0)
                if depth == 0:
                    return text[:i].rstrip() or text
        return text


@dataclass(frozen=True)
class NotebookResult:
    """How one notebook's run went."""

    notebook: Path  # the notebook that was run
    output: Path  # the executed copy, with its outputs (also written when it failed)
    ok: bool
    seconds: float
    error: str = ""  # one line naming the notebook, the cell and the exception; empty when ok
    verdicts: tuple[Verdict, ...] = ()  # every verdict the run printed, in order


def read_verdicts(nb: nbformat.NotebookNode, injected_after: int | None = None) -> tuple[Verdict, ...]:
    """The verdict lines printed in an executed notebook's stream outputs.

    Args:
        nb: the executed notebook.
        injected_after: index of the parameters cell when papermill injected a cell after it, so cell numbers
            are given as in the source notebook.
    """
    found = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        source_index = index - 1 if injected_after is not None and index > injected_after else index
        text = "".join(o.get("text", "") for o in cell.get("outputs", []) if o.get("output_type") == "stream")
        lines = text.splitlines()
        for n, line in enumerate(lines):
            for outcome, prefix in OUTCOMES.items():
                if line.startswith(prefix):
                    after = lines[n + 1] if n + 1 < len(lines) else ""
                    meaning = after.strip() if after.startswith("    ") else ""
                    found.append(Verdict(source_index, outcome, line[len(prefix):].strip(), meaning))
    return tuple(found)


def _counts(verdicts) -> str:
    tally = {outcome: sum(v.outcome == outcome for v in verdicts) for outcome in OUTCOMES}
    return " / ".join(str(tally[o]) for o in OUTCOMES)


def _verdicts_of(output: Path, params_at: int) -> tuple[Verdict, ...]:
    try:
        return read_verdicts(nbformat.read(output, as_version=4), injected_after=params_at)
    except (OSError, ValueError):  # no executed copy (the kernel never started): nothing was printed
        return ()


def find_notebooks(selection: Sequence[str], root: str | Path = ".") -> list[Path]:
    """The notebooks to run: every ``solutions/*.ipynb`` when ``selection`` is empty.

    Args:
        selection: notebook numbers (``"02"`` or ``"2"``: ``solutions/02_*.ipynb``) or paths.
        root: the course repository, where numbers are looked up.

    Raises:
        ValueError: a number that matches no solution notebook, or a path that does not exist.
    """
    solutions = Path(root) / "solutions"
    if not selection:
        found = sorted(solutions.glob("*.ipynb"))
        if not found:
            raise ValueError(f"no notebooks in {solutions}; run from the course repository root or name notebooks")
        return found
    paths = []
    for item in selection:
        number = re.fullmatch(r"(\d{1,2})([a-z]?)", item)
        if number:  # "8" or "08": every part (08a, 08b); "08a": that part
            digits, part = f"{int(number.group(1)):02d}", number.group(2)
            matches = sorted(solutions.glob(f"{digits}{part}_*.ipynb")) + (
                [] if part else sorted(solutions.glob(f"{digits}[a-z]_*.ipynb")))
            if not matches:
                raise ValueError(f"no notebook numbered {digits}{part} in {solutions}")
            paths += matches
        elif Path(item).is_file():
            paths.append(Path(item))
        else:
            raise ValueError(f"{item} is neither a notebook number (such as 02) nor an existing .ipynb file")
    return paths


def parse_parameter(text: str) -> tuple[str, object]:
    """``NAME=VALUE`` from the command line; VALUE is a Python literal (``3``, ``0.5``, ``True``) or a string."""
    name, sep, value = text.partition("=")
    if not sep or not name.isidentifier():
        raise ValueError(f"a parameter must look like NAME=VALUE, got {text!r}")
    try:
        return name, ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return name, value


def _parameters_cell(nb: nbformat.NotebookNode) -> int | None:
    return next((i for i, cell in enumerate(nb.cells) if PARAMETERS_TAG in cell.get("metadata", {}).get("tags", [])),
                None)


@contextmanager
def _environment(**values: str) -> Iterator[None]:
    """Set environment variables for the kernels started inside the block (they inherit them)."""
    before = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def run_notebook(path: str | Path, out_dir: str | Path, parameters: dict[str, object],
                 cell_timeout: float | None = None) -> NotebookResult:
    """Execute one notebook with papermill into ``out_dir/<name>.ipynb``.

    Args:
        path: the notebook; it must have a cell tagged ``parameters``.
        out_dir: where the executed copy goes.
        parameters: values injected after the parameters cell, e.g. ``{"PROFILE": "smoke"}``.
        cell_timeout: seconds a single cell may run (None: no limit).

    Returns:
        The result; errors in the notebook are caught and described, never raised.
    """
    path, out_dir = Path(path), Path(out_dir)
    output = out_dir / path.name
    start = time.perf_counter()

    params_at = None

    def failed(message: str) -> NotebookResult:
        verdicts = _verdicts_of(output, params_at) if params_at is not None else ()
        return NotebookResult(path, output, False, time.perf_counter() - start, f"{path.name}: {message}", verdicts)

    try:
        import papermill
        from papermill.exceptions import PapermillExecutionError
    except ImportError:
        raise ValueError("course run needs papermill, part of the course extra: pip install \"ganlib[course]\"") from None
    nb = nbformat.read(path, as_version=4)
    params_at = _parameters_cell(nb)
    if params_at is None:
        # papermill would only warn and inject at the top, where the notebook's own values win
        return failed("no cell is tagged 'parameters', so PROFILE could not be set; tag the cell that defines it")
    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        papermill.execute_notebook(str(path), str(output), parameters=parameters, cwd=str(path.parent.resolve()),
                                   progress_bar=False, execution_timeout=cell_timeout)
    except PapermillExecutionError as e:
        # papermill counts the cell it injected right after the parameters cell: give the source's index
        index = e.cell_index - 1 if e.cell_index > params_at else e.cell_index
        first_line = next((line for line in nb.cells[index].source.splitlines() if line.strip()), "")
        count = f" (In [{e.exec_count}] in the output)" if e.exec_count else ""
        evalue = (str(e.evalue).strip().splitlines() or [""])[0]
        return failed(f"cell {index}{count} raised {e.ename}: {evalue} (the cell starts: {first_line.strip()[:80]})")
    except Exception as e:  # the kernel died, a cell timed out, the notebook could not be read, ...
        return failed(f"{type(e).__name__}: {(str(e).strip().splitlines() or [''])[0]}")
    return NotebookResult(path, output, True, time.perf_counter() - start, verdicts=_verdicts_of(output, params_at))


def run_notebooks(paths: Sequence[Path], out_dir: str | Path, parameters: dict[str, object],
                  cell_timeout: float | None = None, echo=print) -> list[NotebookResult]:
    """Run every notebook in turn, whatever happens to the others; ``echo`` reports each as it ends."""
    out_dir = Path(out_dir)
    runs = os.environ.get(RUNS_ENV) or str((out_dir / "runs").resolve())
    results = []
    with _environment(**{RUNS_ENV: runs}):
        for path in paths:
            echo(f"running {path} ...")
            result = run_notebook(path, out_dir, parameters, cell_timeout)
            echo(f"  ok in {result.seconds:.1f} s: {result.output}" if result.ok else f"  FAILED: {result.error}")
            results.append(result)
    return results


def summary_table(results: Sequence[NotebookResult]) -> str:
    """A plain-text table: notebook, status, seconds, and the readings' claims by outcome.

    The last column counts the verdicts *held / not held / within noise / not judged*.
    """
    width = max([len("notebook")] + [len(r.notebook.stem) for r in results])
    head = "claims held / not held / within noise / not judged"
    lines = [f"{'notebook':{width}s}  status  seconds  {head}", f"{'-' * width}  ------  -------  {'-' * len(head)}"]
    lines += [f"{r.notebook.stem:{width}s}  {'ok' if r.ok else 'FAILED':6s}  {r.seconds:7.1f}  {_counts(r.verdicts)}"
              for r in results]
    failed = sum(not r.ok for r in results)
    lines.append(f"{failed} of {len(results)} notebook(s) failed" if failed else f"all {len(results)} notebook(s) ran")
    return "\n".join(lines)


def verdict_report(results: Sequence[NotebookResult], parameters: dict[str, object]) -> str:
    """Markdown: every claim the readings made and whether it held in this run, notebook by notebook."""
    verdicts = [v for r in results for v in r.verdicts]
    held = sum(v.held for v in verdicts)
    lines = ["# Claims of the readings, checked by this run", "",
             f"Parameters: {parameters}. {held} of {len(verdicts)} claims held (held / not held / within noise / "
             f"not judged: {_counts(verdicts)}). A claim that did not hold is a result of this machine, profile and "
             "seed, not an error: the reading under it says what to conclude.", ""]
    for r in results:
        status = "" if r.ok else " (the run FAILED; verdicts up to the failing cell)"
        lines += [f"## {r.notebook.stem}{status}", ""]
        for v in r.verdicts:
            lines.append(f"- {_shown(v.outcome)} (cell {v.cell}): {v.claim}")
            lines += [f"  - {v.meaning}"] if v.meaning else []
        lines += (["- no verdicts printed"] if not r.verdicts else []) + [""]
    return "\n".join(lines).rstrip() + "\n"


def _shown(outcome: str) -> str:
    return {"held": "held", "not held": "**not held here**", "within noise": "*within noise*",
            "not judged": "not judged"}[outcome]


def parse_seeds(text: str) -> list[int]:
    """``"0,1"`` or ``"0-2"`` (or a mix, ``"0,3-4"``) as a list of distinct seeds, in order."""
    seeds: list[int] = []
    try:
        for part in filter(None, (p.strip() for p in text.split(","))):
            low, dash, high = part.partition("-")
            seeds += range(int(low), int(high) + 1) if dash else [int(part)]
    except ValueError:
        raise ValueError(f"--seeds takes numbers separated by commas, or a range such as 0-2; got {text!r}") from None
    if not seeds:
        raise ValueError(f"--seeds names no seed: {text!r}")
    return list(dict.fromkeys(seeds))


def seeds_report(by_seed: dict[int, Sequence[NotebookResult]], parameters: dict[str, object]) -> str:
    """Markdown: each claim of each notebook, one column per seed, and whether it held in every seed."""
    seeds = list(by_seed)
    lines = ["# Claims of the readings, one run per seed", "", f"Parameters: {parameters}; seeds {seeds}.", ""]
    everything = [v for results in by_seed.values() for r in results for v in r.verdicts]
    lines += [f"Verdicts over all seeds (held / not held / within noise / not judged): {_counts(everything)}.", ""]
    notebooks = list(dict.fromkeys(r.notebook for results in by_seed.values() for r in results))
    for notebook in notebooks:
        runs = {seed: next((r for r in results if r.notebook == notebook), None) for seed, results in by_seed.items()}
        claims: dict[tuple[int, int], str] = {}  # (cell, n-th verdict of that cell): the statement
        outcomes: dict[tuple[int, int], dict[int, str]] = {}
        for seed, r in runs.items():
            per_cell: dict[int, int] = {}
            for v in r.verdicts if r else ():
                key = (v.cell, per_cell.setdefault(v.cell, 0))
                per_cell[v.cell] += 1
                claims.setdefault(key, v.statement)
                outcomes.setdefault(key, {})[seed] = v.outcome
        failed = [str(seed) for seed, r in runs.items() if r is None or not r.ok]
        lines += [f"## {notebook.stem}" + (f" (FAILED for seed {', '.join(failed)})" if failed else ""), ""]
        lines += ["| cell | claim | " + " | ".join(f"seed {s}" for s in seeds) + " |",
                  "|---|---|" + "---|" * len(seeds)]
        for key in sorted(claims):
            row = [outcomes[key].get(s, "missing") for s in seeds]
            lines.append(f"| {key[0]} | {claims[key].replace('|', '/')} | " + " | ".join(row) + " |")
        lines += (["(no verdicts printed)"] if not claims else []) + [""]
    return "\n".join(lines).rstrip() + "\n"


def main_run(notebooks: Sequence[str], profile: str, out: str | None, device: str | None = None,
             seed: int | None = None, params: Sequence[str] = (), cell_timeout: float | None = None,
             root: str | Path = ".", seeds: str | None = None) -> int:
    """The ``python -m ganlib course run`` command: 0 when every notebook ran, 1 otherwise.

    With ``seeds`` (``"0,1"``), every notebook runs once per seed, into ``OUT/seed-N/`` with its own
    ``verdicts.md``, and ``OUT/verdicts.md`` lists each claim with its outcome per seed.
    """
    from ganlib.config import resolve_profile

    profile = resolve_profile(profile)  # inject the name itself, so the output says which profile ran
    paths = find_notebooks(notebooks, root)
    if seeds is not None and seed is not None:
        raise ValueError("give --seed or --seeds, not both")
    seed_list = parse_seeds(seeds) if seeds is not None else [seed]
    parameters: dict[str, object] = {"PROFILE": profile}
    if device is not None:
        parameters["DEVICE"] = device
    parameters.update(parse_parameter(p) for p in params)
    out_dir = Path(out or Path(root) / "out" / profile)
    by_seed: dict[int, list[NotebookResult]] = {}
    for s in seed_list:
        these = dict(parameters, **({"SEED": s} if s is not None else {}))
        folder = out_dir / f"seed-{s}" if seeds is not None else out_dir
        print(f"{len(paths)} notebook(s) into {folder}, parameters {these}")
        results = run_notebooks(paths, folder, these, cell_timeout)
        print()
        print(summary_table(results))
        report = folder / "verdicts.md"
        report.write_text(verdict_report(results, these), encoding="utf-8")
        for r in results:
            for v in r.verdicts:
                if v.outcome in ("not held", "within noise"):
                    print(f"{'not held here' if v.outcome == 'not held' else v.outcome}: {r.notebook.stem} "
                          f"cell {v.cell}: {v.claim}")
        print(f"every claim and its verdict: {report}")
        by_seed[s] = results
    if seeds is not None:
        report = out_dir / "verdicts.md"
        report.write_text(seeds_report(by_seed, parameters), encoding="utf-8")
        print(f"each claim for every seed: {report}")
    failures = [r for results in by_seed.values() for r in results if not r.ok]
    for r in failures:
        print(f"error: {r.error}")
    return 0 if not failures else 1
