"""Drive JupyterLab in headless Chromium (Playwright, sync API) for notebook UI tests.

Used by tests/conftest.py (fixtures `jupyter_lab`, `browser`, `lab_page`) and by any test that
wants notebook-specific checks.  Public helpers (all take a Playwright `Page` showing a notebook):

    wait_kernel_idle(page, timeout=..., settle=...)  kernel idle and no "[*]" prompt for `settle` s
    run_all(page, timeout=...)                       Run > Run All Cells, wait until finished
    set_slider(page, description, value)             type a value into an ipywidgets slider readout
                                                     (fires the kernel-side observers) and wait idle
    text_of(page, selector)                          visible text of all matches, joined by newlines
    notebook_problems(page)                          list of error descriptions (tracebacks,
                                                     kernel errors, broken widgets)
    screenshot(page, name)                           full notebook screenshot in test-artifacts/
    hangul_rendering(page, selector)                 canvas drawings of Hangul vs a missing glyph, in an
                                                     element's font (tofu check); platform_fonts(page, sel)
                                                     the fonts Chromium used for an element
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO_ROOT / "test-artifacts"
CHROMIUM = os.environ.get("LMTEACH_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
# Per-notebook limit for "Run All" in the browser (seconds).
NOTEBOOK_TIMEOUT = float(os.environ.get("LMTEACH_BROWSER_NB_TIMEOUT", "600"))


def notebook_dir() -> Path:
    """Folder whose *.ipynb the browser test opens (env LMTEACH_NOTEBOOK_DIR, default notebooks/)."""
    return Path(os.environ.get("LMTEACH_NOTEBOOK_DIR", REPO_ROOT / "notebooks")).resolve()


def list_notebooks() -> list[str]:
    d = notebook_dir()
    return sorted(p.name for p in d.glob("*.ipynb")) if d.is_dir() else []


# --------------------------------------------------------------------------------------------
# JupyterLab server
# --------------------------------------------------------------------------------------------

# User settings written into a private JUPYTERLAB_SETTINGS_DIR: no news/update toasts (no network),
# no autosave (the test must never rewrite the repo's notebooks), and every cell attached to the
# DOM (the default "contentVisibility"/"full" windowing would hide off-screen outputs from checks).
LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/extensionmanager-extension/plugin.jupyterlab-settings": {"enabled": False},
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class JupyterLabServer:
    """`python -m jupyterlab` from this interpreter's environment, isolated from user config."""

    def __init__(self, root_dir: Path, log_path: Path | None = None):
        self.root_dir = Path(root_dir).resolve()
        self.port = _free_port()
        self.token = secrets.token_hex(16)
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.home = Path(tempfile.mkdtemp(prefix="lmteach-lab-"))
        ARTIFACTS.mkdir(exist_ok=True)
        self.log_path = log_path or ARTIFACTS / "jupyterlab.log"
        self.proc: subprocess.Popen | None = None
        self._log = None

    def start(self, timeout: float = 120) -> "JupyterLabServer":
        settings = self.home / "settings"
        for rel, value in LAB_SETTINGS.items():
            f = settings / rel
            f.parent.mkdir(parents=True, exist_ok=True)
            f.write_text(json.dumps(value))
        env = dict(os.environ)
        env.update(
            LMTEACH_QUICK="1",
            JUPYTER_CONFIG_DIR=str(self.home / "config"),
            JUPYTER_DATA_DIR=str(self.home / "data"),  # hides user-level kernelspecs
            JUPYTER_RUNTIME_DIR=str(self.home / "runtime"),
            JUPYTERLAB_SETTINGS_DIR=str(settings),
            JUPYTERLAB_WORKSPACES_DIR=str(self.home / "workspaces"),
            JUPYTER_PLATFORM_DIRS="1",
            PYTHONUNBUFFERED="1",
        )
        env.pop("MPLBACKEND", None)
        cmd = [
            sys.executable, "-m", "jupyterlab",
            "--no-browser",
            "--ServerApp.open_browser=False",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={self.port}",
            "--ServerApp.port_retries=0",
            "--ServerApp.allow_root=True",
            "--ServerApp.terminals_enabled=False",
            f"--ServerApp.root_dir={self.root_dir}",
            f"--IdentityProvider.token={self.token}",
            "--LabApp.expose_app_in_browser=True",
            "--LabApp.news_url=None",
            "--LabApp.check_for_updates_class=jupyterlab.handlers.announcements.NeverCheckForUpdate",
        ]
        self._log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            cmd, env=env, cwd=self.root_dir, stdin=subprocess.DEVNULL,
            stdout=self._log, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"jupyter lab exited with {self.proc.returncode}; see {self.log_path}")
            try:
                self.api("GET", "/api/status")
                self.api("GET", "/lab")  # the page itself renders (static assets found)
                return self
            except OSError:
                time.sleep(0.5)
        self.stop()
        raise TimeoutError(f"jupyter lab did not answer within {timeout}s; see {self.log_path}")

    def api(self, method: str, path: str, timeout: float = 10):
        req = urllib.request.Request(self.base_url + path, method=method)
        req.add_header("Authorization", f"token {self.token}")
        with urllib.request.urlopen(req, timeout=timeout) as r:
            body = r.read()
        ctype = r.headers.get("Content-Type", "")
        return json.loads(body) if body and "json" in ctype else body

    def notebook_url(self, name: str) -> str:
        # ?reset: start from an empty workspace so only this notebook is open.
        return f"{self.base_url}/lab/tree/{urllib.parse.quote(name)}?reset&token={self.token}"

    def shutdown_kernels(self) -> None:
        try:
            for s in self.api("GET", "/api/sessions"):
                self.api("DELETE", f"/api/sessions/{s['id']}")
            for k in self.api("GET", "/api/kernels"):
                self.api("DELETE", f"/api/kernels/{k['id']}")
        except OSError:
            pass

    def log_size(self) -> int:
        self._log and self._log.flush()
        return self.log_path.stat().st_size if self.log_path.exists() else 0

    def log_since(self, offset: int) -> str:
        self._log and self._log.flush()
        with open(self.log_path, errors="replace") as f:
            f.seek(offset)
            return f.read()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.shutdown_kernels()
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self._log:
            self._log.close()
        shutil.rmtree(self.home, ignore_errors=True)


# --------------------------------------------------------------------------------------------
# Browser
# --------------------------------------------------------------------------------------------

def block_outside_requests(context) -> None:
    """Abort every request that does not go to this machine (JupyterLab must work offline)."""

    def handle(route):
        host = urllib.parse.urlsplit(route.request.url).hostname or ""
        if host in ("127.0.0.1", "localhost", "::1") or route.request.url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            route.abort()

    context.route("**/*", handle)


_JS_STATE = """
() => {
  const app = window.jupyterapp;
  if (!app) return {state: 'noapp'};
  const w = app.shell.currentWidget;
  if (!w || !w.sessionContext || !w.content) return {state: 'nowidget'};
  const sc = w.sessionContext;
  const k = sc.session && sc.session.kernel;
  const busyPrompts = Array.from(w.node.querySelectorAll('.jp-InputPrompt'))
      .filter(e => e.textContent.includes('[*]')).length;
  return {state: k ? k.status : (sc.isReady ? 'nokernel' : 'starting'),
          busyPrompts, path: w.context.path};
}
"""

# Records every kernel 'error' message and every stderr stream with a traceback, whatever cell or
# widget callback caused it (callback errors do not show in any cell's output area).
_JS_WATCH_KERNEL = """
() => {
  const w = window.jupyterapp.shell.currentWidget;
  window.__lmteach = window.__lmteach || {kernelErrors: []};
  const attach = () => {
    const k = w.sessionContext.session && w.sessionContext.session.kernel;
    if (!k || k.__lmteachWatched) return;
    k.__lmteachWatched = true;
    k.iopubMessage.connect((_, msg) => {
      const t = msg.header.msg_type, c = msg.content || {};
      if (t === 'error') {
        window.__lmteach.kernelErrors.push(c.ename + ': ' + c.evalue);
      } else if (t === 'stream' && c.name === 'stderr' && /Traceback \\(most recent call last\\)/.test(c.text)) {
        window.__lmteach.kernelErrors.push(c.text.slice(-2000));
      }
    });
  };
  attach();
  w.sessionContext.kernelChanged.connect(attach);
  return true;
}
"""


def open_notebook(context, server: JupyterLabServer, name: str, timeout: float = 180):
    """Open `name` (relative to the server's root) in a new page; wait for an idle kernel."""
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(server.notebook_url(name), wait_until="domcontentloaded")
    page.wait_for_function(
        "p => { const a = window.jupyterapp; const w = a && a.shell.currentWidget;"
        " return !!(w && w.context && w.context.path === p && w.content && w.sessionContext); }",
        arg=name, timeout=timeout * 1000,
    )
    dismiss_dialogs(page)
    wait_kernel_idle(page, timeout=timeout, settle=0.5)
    page.evaluate(_JS_WATCH_KERNEL)
    return page


def dismiss_dialogs(page) -> None:
    """Close any modal dialog (e.g. kernel selection, which should never appear) and toasts."""
    for _ in range(3):
        dlg = page.locator(".jp-Dialog")
        if dlg.count() == 0:
            break
        accept = dlg.locator(".jp-mod-accept")
        (accept.first if accept.count() else dlg.locator("button").first).click()
        page.wait_for_timeout(300)
    for btn in page.locator(".jp-toast-button, .Toastify__close-button").all():
        try:
            btn.click(timeout=1000)
        except Exception:
            pass


def kernel_state(page) -> dict:
    return page.evaluate(_JS_STATE)


def wait_kernel_idle(page, timeout: float = 120, settle: float = 1.0) -> None:
    """Wait until the notebook's kernel is idle with no "[*]" prompt, continuously for `settle` s."""
    deadline = time.monotonic() + timeout
    idle_since = None
    st = {}
    while time.monotonic() < deadline:
        if page.locator(".jp-Dialog").count():
            dismiss_dialogs(page)
        st = kernel_state(page)
        if st.get("state") == "idle" and st.get("busyPrompts", 1) == 0:
            idle_since = idle_since or time.monotonic()
            if time.monotonic() - idle_since >= settle:
                return
        else:
            idle_since = None
        page.wait_for_timeout(200)
    raise TimeoutError(f"kernel not idle after {timeout}s (last state {st})")


def run_all(page, timeout: float = NOTEBOOK_TIMEOUT) -> bool:
    """Run > Run All Cells and wait until every cell has finished. Returns JupyterLab's success
    flag (False when a cell raised; execution then stops at that cell)."""
    page.evaluate(
        """() => { window.__lmteachRun = null;
          window.jupyterapp.commands.execute('notebook:run-all-cells').then(
            ok => { window.__lmteachRun = {ok: !!ok}; },
            err => { window.__lmteachRun = {ok: false, error: String(err)}; }); }"""
    )
    page.wait_for_function("() => window.__lmteachRun !== null", timeout=timeout * 1000, polling=500)
    wait_kernel_idle(page, timeout=60, settle=1.0)
    try:
        wait_widgets_rendered(page)
    except Exception:  # reported by notebook_problems()
        pass
    return bool(page.evaluate("() => window.__lmteachRun.ok"))


_JS_CELLS = """
() => {
  const w = window.jupyterapp.shell.currentWidget;
  const cells = [];
  const m = w.content.model;
  for (let i = 0; i < m.cells.length; i++) {
    const c = m.cells.get(i);
    const d = {type: c.type, source: c.sharedModel.getSource(), executionCount: null, outputs: []};
    if (c.type === 'code') {
      d.executionCount = c.executionCount;
      for (let j = 0; j < c.outputs.length; j++) d.outputs.push(c.outputs.get(j).toJSON());
    }
    cells.push(d);
  }
  return cells;
}
"""


def cells(page) -> list[dict]:
    """The notebook model's cells: type, source, executionCount, outputs (nbformat JSON)."""
    return page.evaluate(_JS_CELLS)


def widget_view_count(page) -> int:
    return sum(
        1
        for c in cells(page)
        for o in c["outputs"]
        if "application/vnd.jupyter.widget-view+json" in (o.get("data") or {})
    )


# A cell's own (top-level) output that is a rendered ipywidget; nested Output widgets excluded.
TOP_OUTPUT = ".jp-Cell-outputArea > .jp-OutputArea-child > .jp-OutputArea-output"
RENDERED_WIDGET = f"{TOP_OUTPUT} > .jupyter-widgets"


def wait_widgets_rendered(page, timeout: float = 30) -> None:
    """Wait until every widget output of the notebook shows a rendered widget or an error."""
    n = widget_view_count(page)
    if not n:
        return
    page.wait_for_function(
        """([sel, n]) => {
             const outs = Array.from(document.querySelectorAll(sel));
             const done = outs.filter(o => o.querySelector(':scope > .jupyter-widgets')
                                           || /Error displaying widget/.test(o.textContent));
             return done.length >= n; }""",
        arg=[TOP_OUTPUT, n], timeout=timeout * 1000, polling=250,
    )


def notebook_problems(page) -> list[str]:
    """Everything that looks broken in the open notebook, as readable strings (empty = fine)."""
    problems: list[str] = []
    model = cells(page)
    for i, c in enumerate(model):
        if c["type"] != "code":
            continue
        if c["source"].strip() and c["executionCount"] is None:
            problems.append(f"cell {i} was not executed")
        for o in c["outputs"]:
            if o.get("output_type") == "error":
                problems.append(f"cell {i} raised {o.get('ename')}: {o.get('evalue')}")
            elif o.get("output_type") == "stream" and o.get("name") == "stderr":
                text = "".join(o.get("text", ""))
                if "Traceback (most recent call last)" in text:
                    problems.append(f"cell {i} printed a traceback:\n{text[-1500:]}")
    for text in page.locator(".jp-OutputArea-output .jp-RenderedText").all_inner_texts():
        if "Traceback (most recent call last)" in text or re.search(r"^\w*Error: ", text, re.M):
            snippet = text.strip()[-800:]
            if not any(snippet[-200:] in p for p in problems):
                problems.append(f"output shows an error:\n{snippet}")
    for text in page.locator(".jp-OutputArea-output").all_inner_texts():
        if "Error displaying widget" in text:
            problems.append(f"widget failed to render: {text.strip()[:300]}")
    n_views = widget_view_count(page)
    rendered = page.locator(RENDERED_WIDGET).count()
    if rendered < n_views:
        problems.append(f"{n_views} widget outputs but only {rendered} rendered .jupyter-widgets views")
    errs = page.evaluate("() => (window.__lmteach && window.__lmteach.kernelErrors) || []")
    for e in errs:
        if not any(e.split(":")[0] in p for p in problems):
            problems.append(f"kernel reported an error (e.g. in a widget callback): {e}")
    return problems


# --------------------------------------------------------------------------------------------
# Interaction helpers for notebook-specific tests
# --------------------------------------------------------------------------------------------

def _widget_with_label(page, widget_class: str, description: str, within=None):
    root = within if within is not None else page  # `within`: a locator, to pick the control of one widget
    # A `has=` locator is matched inside each candidate, so it starts from the page, not from `root`.
    label = page.locator(".widget-label").filter(
        has_text=re.compile(r"^\s*" + re.escape(description) + r"\s*$")
    )
    loc = root.locator(f".{widget_class}").filter(has=label)
    if loc.count() == 0:
        raise LookupError(f"no .{widget_class} with description {description!r}")
    return loc.first


def set_slider(page, description: str, value, timeout: float = 120, within=None) -> None:
    """Set the ipywidgets slider whose description is `description` (inside the locator `within`, if given) to
    `value` by typing into its readout (like a student would), then wait until the kernel has handled the change."""
    slider = _widget_with_label(page, "widget-slider", description, within)
    readout = slider.locator(".widget-readout")
    readout.scroll_into_view_if_needed()
    readout.click()
    page.keyboard.press("Control+A")
    page.keyboard.type(str(value))
    page.keyboard.press("Enter")
    page.wait_for_timeout(300)
    wait_kernel_idle(page, timeout=timeout, settle=1.0)


def slider_value(page, description: str) -> str:
    return _widget_with_label(page, "widget-slider", description).locator(".widget-readout").inner_text().strip()


def click_button(page, description: str, timeout: float = 120, within=None) -> None:
    """Click an ipywidgets Button (or toggle button) by its text, inside the locator `within` if given, and wait
    until the kernel is idle again."""
    (within if within is not None else page).locator("button.jupyter-button, button.widget-button").filter(
        has_text=re.compile(r"^\s*" + re.escape(description) + r"\s*$")
    ).first.click()
    page.wait_for_timeout(300)
    wait_kernel_idle(page, timeout=timeout, settle=1.0)


def text_of(page, selector: str) -> str:
    """Visible text of every element matching `selector` (CSS/Playwright), joined by newlines."""
    return "\n".join(t.strip() for t in page.locator(selector).all_inner_texts())


def image_sources(page, selector: str = ".jp-OutputArea-output img") -> list[str]:
    """`src` of matching images (matplotlib outputs are data: URLs); compare to detect redraws."""
    return [page.locator(selector).nth(i).get_attribute("src") or "" for i in range(page.locator(selector).count())]


def screenshot(page, name: str) -> Path:
    """Screenshot the whole notebook (the viewport is grown to fit it) into test-artifacts/."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / (re.sub(r"[^\w.-]+", "_", name) + ".png")
    vp = page.viewport_size or {"width": 1400, "height": 1000}
    height = page.evaluate(
        """() => { const n = document.querySelector('.jp-NotebookPanel-notebook');
                   return n ? n.scrollHeight : document.body.scrollHeight; }"""
    )
    page.set_viewport_size({"width": vp["width"], "height": int(min(max(vp["height"], height + 200), 12000))})
    page.wait_for_timeout(500)
    page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size(vp)
    return path


# --------------------------------------------------------------------------------------------
# Fonts: does Hangul render, or does it fall back to "tofu" (missing-glyph boxes)?
# --------------------------------------------------------------------------------------------

# Draws text on a canvas with the computed font of a page element (so the browser resolves the same font stack and
# fallback fonts as for that element's text) and returns the alpha channel of each drawing, plus its width.
# U+10FFFD (a private-use code point at the end of Unicode, in no font) is the reference missing glyph.
_JS_GLYPHS = """
([selector, texts]) => {
  const el = Array.from(document.querySelectorAll(selector)).find(e => /[\\uAC00-\\uD7A3]/.test(e.textContent));
  if (!el) return null;
  const style = getComputedStyle(el);
  const font = `${style.fontStyle} ${style.fontWeight} 32px ${style.fontFamily}`;
  const draw = text => {
    const canvas = document.createElement('canvas');
    canvas.width = 160; canvas.height = 48;
    const ctx = canvas.getContext('2d');
    ctx.font = font; ctx.textBaseline = 'top'; ctx.fillStyle = '#000';
    ctx.fillText(text, 4, 4);
    const alpha = Array.from(ctx.getImageData(0, 0, 160, 48).data.filter((_, i) => i % 4 === 3));
    return {text, width: ctx.measureText(text).width, ink: alpha.filter(a => a > 0).length, alpha: alpha.join(',')};
  };
  return {font, sample: el.textContent.slice(0, 40), glyphs: texts.map(draw)};
}
"""
MISSING_GLYPH = "\U0010FFFD"


def hangul_rendering(page, selector: str = ".jp-RenderedMarkdown h1, .jp-RenderedMarkdown h2",
                     syllables: str = "한국어") -> dict:
    """How the first element matching `selector` that contains Hangul would draw each of `syllables` and the
    missing-glyph reference, in that element's font: {"font", "sample", "glyphs": [{text, width, ink, alpha}]}
    (the reference last). Tofu shows as every syllable drawn identically to the reference box."""
    result = page.evaluate(_JS_GLYPHS, [selector, [*syllables, MISSING_GLYPH]])
    if result is None:
        raise LookupError(f"no element matching {selector!r} contains Hangul")
    return result


def platform_fonts(page, selector: str) -> list[dict]:
    """The fonts Chromium actually used to draw the first element matching `selector` (DevTools protocol:
    CSS.getPlatformFontsForNode): [{"familyName", "glyphCount", ...}]."""
    session = page.context.new_cdp_session(page)
    try:
        session.send("DOM.enable")
        session.send("CSS.enable")
        root = session.send("DOM.getDocument", {"depth": -1})["root"]["nodeId"]
        node = session.send("DOM.querySelector", {"nodeId": root, "selector": selector})["nodeId"]
        return session.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]
    finally:
        session.detach()
