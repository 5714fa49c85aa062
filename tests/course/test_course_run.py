"""Tests of ``python -m ganlib course run`` (ganlib.course.run): notebooks executed by papermill.

One test runs the real notebook 01 in the smoke profile; the others use tiny notebooks without
torch, so their kernels start and finish in a second or two.
"""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from ganlib.course import run as runner
from ganlib.__main__ import main
from ganlib.config import RUNS_ENV

REPO = Path(__file__).resolve().parents[2]


def _notebook(path: Path, *sources: str, parameters: bool = True) -> Path:
    cells = [new_code_cell('PROFILE = "auto"', metadata={"tags": ["parameters"]} if parameters else {})]
    cells += [new_code_cell(source) for source in sources]
    nb = new_notebook(cells=cells, metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                            "language": "python"}})
    nbformat.write(nb, path)
    return path


@pytest.mark.slow
def test_runs_notebook_01_in_smoke_into_a_folder(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["course", "run", "01", "--profile", "smoke", "--out", str(out), "--root", str(REPO)]) == 0
    executed = nbformat.read(out / "01_optimal_discriminator.ipynb", as_version=4)
    code = [cell for cell in executed.cells if cell.cell_type == "code"]
    assert all(cell.execution_count for cell in code)  # every cell ran
    injected = [cell for cell in code if "injected-parameters" in cell.metadata.get("tags", [])]
    assert len(injected) == 1 and 'PROFILE = "smoke"' in injected[0].source
    printed = "".join(o.get("text", "") for cell in code for o in cell.outputs)
    assert "profile smoke" in printed
    assert sum(bool(cell.outputs) for cell in code) >= 10  # figures, checks, the widget
    report = capsys.readouterr().out
    assert "01_optimal_discriminator  ok" in report


def test_a_failure_names_notebook_and_cell_and_the_others_still_run(tmp_path, capsys):
    bad = _notebook(tmp_path / "bad.ipynb", "x = 1", "raise ValueError('made to fail')", "never = True")
    good = _notebook(tmp_path / "good.ipynb", "print('profile is', PROFILE)")
    out = tmp_path / "out"
    code = main(["course", "run", str(bad), str(good), "--profile", "smoke", "--out", str(out), "--seed", "3"])
    report = capsys.readouterr().out
    assert code == 1
    assert "error: bad.ipynb: cell 2 (In [" in report  # cell 2 of the source notebook, not of papermill's copy
    assert "raised ValueError: made to fail (the cell starts: raise ValueError('made to fail'))" in report
    table = report[report.index("notebook  status"):]
    assert "\nbad       FAILED" in table and "\ngood      ok" in table and "1 of 2 notebook(s) failed" in table
    # the failed notebook is still written, with its traceback; the other ran after it
    assert "made to fail" in (out / "bad.ipynb").read_text()
    executed = nbformat.read(out / "good.ipynb", as_version=4)
    assert "profile is smoke" in executed.cells[-1].outputs[0]["text"]
    assert 'SEED = 3' in executed.cells[1].source


def test_the_report_collects_every_verdict_with_its_cell(tmp_path, capsys):
    claims = _notebook(tmp_path / "claims.ipynb",
                       "from ganlib.checks import verdict\nverdict('two beats one', 2 > 1, '2 vs 1')",
                       "print('VERDICT is a word in this line, not a verdict')",
                       "verdict('one beats two', 1 > 2, '1 vs 2'); verdict('same', True)")
    crashed = _notebook(tmp_path / "crashed.ipynb", "from ganlib.checks import verdict\nverdict('before', True)",
                        "raise RuntimeError('stop')", "verdict('after', True)")
    out = tmp_path / "out"
    assert main(["course", "run", str(claims), str(crashed), "--profile", "smoke", "--out", str(out)]) == 1
    printed = capsys.readouterr().out
    table = printed[printed.index("notebook  status"):]
    assert "\nclaims    ok" in table and table.splitlines()[2].endswith("2 / 1 / 0 / 0")  # held / not / noise / unjudged
    assert table.splitlines()[3].endswith("1 / 0 / 0 / 0")  # the crashed notebook's verdicts up to the failing cell
    assert "not held here: claims cell 3: one beats two (1 vs 2)" in printed
    report = (out / "verdicts.md").read_text()
    assert "3 of 4 claims held (held / not held / within noise / not judged: 3 / 1 / 0 / 0)" in report
    assert "- held (cell 1): two beats one (2 vs 1)" in report
    assert "- **not held here** (cell 3): one beats two (1 vs 2)" in report and "- held (cell 3): same" in report
    assert "## crashed (the run FAILED; verdicts up to the failing cell)" in report and "after" not in report


# A notebook whose claims depend on its seed: a clear effect, one inside the noise only for seed 1, one smoke
# cannot judge, each with the reading for its outcome.
_SEEDED = ("from ganlib.checks import Effect, judge_at, verdict\nSEED = globals().get('SEED', 0)",
           "verdict('a clear effect (big)', Effect(1.0, 0.1, 'by hand'), 'evidence', if_held='it shows')\n"
           "verdict('a small one', Effect(0.3 if SEED == 0 else 0.05, 0.1, 'by hand'), "
           "if_within_noise='this budget cannot resolve it')",
           "judge_at('smoke'); verdict('a smoke claim', Effect(5.0, 0.1, 'by hand'))")


def test_the_four_outcomes_are_read_with_the_reading_under_each():
    nb = nbformat.v4.new_notebook(cells=[new_code_cell(source) for source in _SEEDED])
    texts = ["VERDICT held: a clear effect (big) (effect +1 ± 0.1, by hand; evidence)\n    it shows\n"
             "VERDICT within noise: a small one (effect +0.05 ± 0.1, by hand)\n    this budget cannot resolve it\n",
             "VERDICT not judged: a smoke claim (effect +5 ± 0.1, by hand)\n    too short\n"]
    for cell, text in zip(nb.cells[1:], texts):
        cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=text)]
    found = runner.read_verdicts(nb)
    assert [(v.cell, v.outcome, v.meaning) for v in found] == [
        (1, "held", "it shows"), (1, "within noise", "this budget cannot resolve it"), (2, "not judged", "too short")]
    assert found[0].statement == "a clear effect (big)"  # the claim without its trailing (effect; evidence)
    assert runner.Verdict(0, "held", "no evidence").statement == "no evidence"


def test_seeds_runs_each_notebook_per_seed_and_reports_each_claim_per_seed(tmp_path, capsys):
    path = _notebook(tmp_path / "seeded.ipynb", *_SEEDED)
    out = tmp_path / "out"
    assert main(["course", "run", str(path), "--profile", "quick", "--out", str(out), "--seeds", "0,1"]) == 0
    for seed in (0, 1):
        executed = nbformat.read(out / f"seed-{seed}" / "seeded.ipynb", as_version=4)
        assert f"SEED = {seed}" in executed.cells[1].source  # papermill's injected cell
        assert (out / f"seed-{seed}" / "verdicts.md").is_file()
    printed = capsys.readouterr().out
    assert "within noise: seeded cell 2: a small one" in printed
    report = (out / "verdicts.md").read_text()
    assert "seeds [0, 1]" in report
    assert "over all seeds (held / not held / within noise / not judged): 3 / 0 / 1 / 2" in report
    assert "| 2 | a clear effect (big) | held | held |" in report
    assert "| 2 | a small one | held | within noise |" in report
    assert "| 3 | a smoke claim | not judged | not judged |" in report
    with pytest.raises(ValueError, match="--seeds takes numbers"):
        runner.parse_seeds("0,one")
    assert runner.parse_seeds("0-2,1,5") == [0, 1, 2, 5]
    assert main(["course", "run", str(path), "--seeds", "0", "--seed", "1", "--out", str(out)]) == 2


def test_a_notebook_without_parameters_cell_is_refused(tmp_path):
    path = _notebook(tmp_path / "plain.ipynb", "print(PROFILE)", parameters=False)
    result = runner.run_notebook(path, tmp_path / "out", {"PROFILE": "smoke"})
    assert not result.ok
    assert result.error.startswith("plain.ipynb: no cell is tagged 'parameters'")


def test_checkpoints_go_to_the_output_folder(tmp_path, monkeypatch):
    monkeypatch.delenv(RUNS_ENV, raising=False)
    path = _notebook(tmp_path / "runs.ipynb", "import os\nprint(os.environ['GANLIB_RUNS'])")
    out = tmp_path / "out"
    [result] = runner.run_notebooks([path], out, {"PROFILE": "smoke"}, echo=lambda line: None)
    assert result.ok
    executed = nbformat.read(out / "runs.ipynb", as_version=4)
    assert executed.cells[-1].outputs[0]["text"].strip() == str((out / "runs").resolve())
    assert RUNS_ENV not in os.environ  # restored


def test_find_notebooks(tmp_path):
    solutions = sorted((REPO / "solutions").glob("*.ipynb"))
    assert runner.find_notebooks([], REPO) == solutions
    assert runner.find_notebooks(["02", "1"], REPO) == [REPO / "solutions" / "02_vanilla_gan.ipynb",
                                                        REPO / "solutions" / "01_optimal_discriminator.ipynb"]
    path = _notebook(tmp_path / "x.ipynb")
    assert runner.find_notebooks([str(path)], REPO) == [path]
    with pytest.raises(ValueError, match="no notebook numbered 99"):
        runner.find_notebooks(["99"], REPO)
    with pytest.raises(ValueError, match="neither a notebook number"):
        runner.find_notebooks([str(tmp_path / "missing.ipynb")], REPO)
    with pytest.raises(ValueError, match="no notebooks in"):
        runner.find_notebooks([], tmp_path)


def test_unknown_notebook_exits_2_with_one_line(capsys):
    assert main(["course", "run", "99", "--profile", "smoke", "--root", str(REPO)]) == 2
    assert capsys.readouterr().err.startswith("error: no notebook numbered 99")


@pytest.mark.parametrize("text,expected", [
    ("DATASET=mnist", ("DATASET", "mnist")), ("STEPS=30", ("STEPS", 30)), ("LR=1e-3", ("LR", 0.001)),
    ("FLAG=True", ("FLAG", True)), ("NAME='a b'", ("NAME", "a b")), ("EMPTY=", ("EMPTY", "")),
])
def test_parse_parameter(text, expected):
    assert runner.parse_parameter(text) == expected


@pytest.mark.parametrize("text", ["noequals", "1X=2", "=3"])
def test_parse_parameter_rejects_malformed(text):
    with pytest.raises(ValueError, match="NAME=VALUE"):
        runner.parse_parameter(text)
