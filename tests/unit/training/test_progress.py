"""Which progress display ``progress_bar`` picks: tqdm's bar in a notebook kernel (Jupyter's or Colab's) or a
terminal, plain lines when output goes to a log. The IPython shell is stood in for by small classes named as
the real ones are: a kernel's shell has a ``kernel`` attribute, whatever its class is called."""

from __future__ import annotations

import io

import IPython
import pytest
from tqdm.std import tqdm as std_tqdm

from ganlib.progress import PlainProgress, progress_bar


class Shell:  # Colab's kernel shell is google.colab._shell.Shell, not ZMQInteractiveShell
    kernel = object()


class ZMQInteractiveShell:  # Jupyter's kernel shell
    kernel = object()


class TerminalInteractiveShell:  # IPython in a terminal: no kernel
    pass


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("shell,stderr,expected", [
    (Shell, io.StringIO(), std_tqdm),  # Colab, whose stderr is no tty
    (ZMQInteractiveShell, io.StringIO(), std_tqdm),  # JupyterLab
    (TerminalInteractiveShell, io.StringIO(), PlainProgress),  # IPython with its output going to a log
    (TerminalInteractiveShell, Terminal(), std_tqdm),  # IPython in a terminal
    (None, io.StringIO(), PlainProgress),  # plain Python, output to a log (CI, nohup)
])
def test_progress_bar_in_a_kernel_or_terminal_and_plain_lines_in_a_log(monkeypatch, shell, stderr, expected):
    monkeypatch.setattr(IPython, "get_ipython", lambda: shell() if shell else None)
    monkeypatch.setattr("sys.stderr", stderr)
    bar = progress_bar(range(4), initial=0, total=4, desc="run")
    assert isinstance(bar, expected)  # PlainProgress is no tqdm, and no tqdm is a PlainProgress
    assert list(bar) == [0, 1, 2, 3]
    bar.close()
    text = stderr.getvalue()
    if expected is PlainProgress:
        assert text.splitlines()[-1].startswith("run: step 4/4 (100%)") and "\r" not in text
    else:
        assert "\r" in text and "4/4" in text  # tqdm redraws its line in place
