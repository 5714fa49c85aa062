"""Notebooks 01 and 03 in JupyterLab, in a real (headless) browser: Run All Cells, no errors, widgets work.

A JupyterLab server starts on 127.0.0.1 with a random port and token, in a temporary folder that
holds copies of the solution notebooks 01 and 03; their kernels run in the ``smoke`` profile.
Debian's Chromium, driven by Playwright, opens each notebook, clicks Run > Run All Cells, waits
until every code cell has run and the kernel is idle, then checks that no cell printed a
traceback, that the notebook's two ipywidgets sliders rendered, and that moving one redraws the
figure (which needs the live kernel behind the widget). A screenshot of each goes to
``$GANLIB_ARTIFACTS/jupyterlab-NN.png`` (default ``artifacts/``), kept by CI.

Needs Chromium (``apt-get install -y chromium``; or set ``CHROMIUM`` to another binary),
Playwright's Python package (``pip install playwright``; its own browser download is not needed)
and JupyterLab; ``pip install -e ".[dev]"`` installs both packages. The test skips, naming what
to install, when one is missing.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
# notebook -> the sliders its widgets render: 01 has p_g's mean and width, then the 1-D GAN's snapshot; 03 its
# latent explorer's two
SLIDERS = {"01_optimal_discriminator.ipynb": 3, "03_dcgan.ipynb": 2}
NOTEBOOKS = list(SLIDERS)
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
STDERR = ".jp-RenderedText[data-mime-type='application/vnd.jupyter.stderr']"
# Settings of the throwaway JupyterLab: every cell in the DOM (no windowing), no news or extension
# manager fetching from the network.
LAB_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false"},
    "@jupyterlab/extensionmanager-extension/plugin.jupyterlab-settings": {"enabled": False},
}

pytestmark = pytest.mark.slow


def _requirements() -> str:
    """The Chromium binary; skips the test, saying what to install, when something is missing."""
    chromium = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        pytest.skip("no Chromium: install Debian's package (apt-get install -y chromium) or set CHROMIUM=/path/to/chromium")
    for module, package in (("playwright", "playwright"), ("jupyterlab", "jupyterlab")):
        try:
            __import__(module)
        except ImportError:
            pytest.skip(f"no {package}: pip install -e \".[dev]\" (or pip install {package}; "
                        "Playwright's own browser download is not needed)")
    return chromium


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str):
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.load(response)


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A JupyterLab server on copies of the notebooks; yields (base URL, token, work folder, Chromium)."""
    chromium = _requirements()
    root = tmp_path_factory.mktemp("lab")
    work = root / "work"
    work.mkdir()
    for name in NOTEBOOKS:
        shutil.copy(REPO / "solutions" / name, work / name)
    settings = root / "settings"
    for name, values in LAB_SETTINGS.items():
        (settings / name).parent.mkdir(parents=True, exist_ok=True)
        (settings / name).write_text(json.dumps(values))
    port, token = _free_port(), secrets.token_hex(16)
    env = {**os.environ, "GANLIB_PROFILE": "smoke", "OMP_NUM_THREADS": "1", "JUPYTERLAB_SETTINGS_DIR": str(settings),
           "JUPYTER_CONFIG_DIR": str(root / "config"), "JUPYTER_RUNTIME_DIR": str(root / "runtime"),
           "JUPYTERLAB_WORKSPACES_DIR": str(root / "workspaces")}
    env.pop("MPLBACKEND", None)  # the kernel draws inline, as for a student
    command = [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}", "--ServerApp.ip=127.0.0.1",
               f"--ServerApp.token={token}", f"--ServerApp.root_dir={work}", "--ServerApp.port_retries=0"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")
    log = open(root / "server.log", "w")
    server = subprocess.Popen(command, cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                _get(f"{base}/api/status?token={token}")
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"JupyterLab did not start: {(root / 'server.log').read_text()[-3000:]}")
                time.sleep(0.3)
        yield base, token, work, chromium
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


def _kernel_idle(base: str, token: str, notebook: str) -> bool:
    """Whether the notebook's kernel has started and is idle."""
    sessions = [s for s in _get(f"{base}/api/sessions?token={token}") if s["path"] == notebook]
    return bool(sessions) and sessions[0]["kernel"]["execution_state"] == "idle"


def _shut_down(base: str, token: str, notebook: str) -> None:
    """End the notebook's kernel, so the next test's notebook has the CPU to itself."""
    for session in _get(f"{base}/api/sessions?token={token}"):
        if session["path"] == notebook:
            request = urllib.request.Request(f"{base}/api/sessions/{session['id']}", method="DELETE",
                                             headers={"Authorization": f"token {token}"})
            urllib.request.urlopen(request, timeout=10).close()


def _prompts(panel) -> list[str]:
    """The input prompt of every code cell: '[3]:' once run, '[*]:' while queued or running, '[ ]:' before."""
    return panel.locator(".jp-CodeCell .jp-InputPrompt").all_inner_texts()


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_notebook_runs_all_cells_in_jupyterlab(lab, notebook):
    from playwright.sync_api import sync_playwright

    base, token, work, chromium = lab
    artifacts = Path(os.environ.get("GANLIB_ARTIFACTS") or REPO / "artifacts")
    artifacts.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"{base}/lab/tree/{notebook}?reset&token={token}")  # reset: no tabs of an earlier test
            page.wait_for_selector(".jp-Notebook .jp-CodeCell", timeout=60_000)
            panel = page.locator(".jp-NotebookPanel:visible")  # the notebook's tab, and only its cells
            assert panel.count() == 1
            deadline = time.monotonic() + 60
            while not _kernel_idle(base, token, notebook):  # the kernel has started and is ready
                assert time.monotonic() < deadline, "the kernel never became idle"
                time.sleep(0.3)

            page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
            page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()

            deadline = time.monotonic() + 240
            while True:  # every prompt numbered (or the run stopped at an error) and the kernel idle
                prompts = _prompts(panel)
                running = any("*" in prompt for prompt in prompts)
                if not running and _kernel_idle(base, token, notebook) and prompts and "[ ]" not in "".join(prompts[-1:]):
                    break
                if not running and panel.locator(STDERR, has_text="Traceback").count():
                    break  # an error stops Run All: report it below
                assert time.monotonic() < deadline, f"cells still running after 240 s: {prompts}"
                time.sleep(0.5)

            shot = artifacts / f"jupyterlab-{notebook[:2]}.png"
            errors = [text for text in panel.locator(STDERR).all_inner_texts() if "Traceback" in text or "Error" in text]
            if errors or not panel.locator(".widget-slider").count():
                page.screenshot(path=str(shot))
            assert not errors, f"a cell raised (screenshot: {shot}):\n" + "\n\n".join(errors)[-4000:]
            prompts = _prompts(panel)
            assert prompts and all(prompt.strip("[]: ").isdigit() for prompt in prompts), \
                f"not every code cell ran: {prompts}"

            sliders = panel.locator(".jupyter-widgets.widget-slider")
            sliders.first.scroll_into_view_if_needed()
            assert sliders.count() == SLIDERS[notebook], \
                f"expected {SLIDERS[notebook]} sliders, {sliders.count()} rendered"
            image = panel.locator(".jupyter-widgets.widget-image").first
            image.wait_for(state="visible", timeout=10_000)
            before = image.get_attribute("src")
            handle = sliders.first.locator(".noUi-handle").first
            handle.focus()
            page.keyboard.press("ArrowRight")  # move the first slider one step: the kernel redraws the figure
            page.wait_for_function("([el, before]) => el.getAttribute('src') !== before",
                                   arg=[image.element_handle(), before], timeout=30_000)
            page.screenshot(path=str(shot))
        finally:
            browser.close()
            _shut_down(base, token, notebook)
    assert shot.stat().st_size > 10_000
