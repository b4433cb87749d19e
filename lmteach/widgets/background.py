"""What the live labs share: a training loop in a daemon thread, so the kernel stays free to serve the widgets
(Pause, Stop, sliders) while the models train.

    class MyLab(BackgroundLab):
        def start(self, block=False):   # set up, then
            return self._launch(block)
        def _loop(self):                 # train, draw; check self._stop; keep an exception in self.error
"""

from __future__ import annotations

import threading


class BackgroundLab:
    """start() runs `_loop` in a thread; run() starts and waits; wait() re-raises the loop's error; stop() asks
    the loop to end after its current step."""

    thread_name = "lmteach-lab"

    def __init__(self):
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.error: BaseException | None = None

    def _launch(self, block: bool):
        self._thread = threading.Thread(target=self._loop, name=self.thread_name, daemon=True)
        self._thread.start()
        if block:
            self.wait()
        return self

    def _loop(self):
        raise NotImplementedError

    def run(self):
        """Start and wait until the training ends (what a tested lesson cell does)."""
        return self.start(block=True)

    def wait(self):
        if self._thread is not None:
            self._thread.join()
        if self.error is not None:
            error, self.error = self.error, None
            raise error
        return self

    def stop(self):
        self._stop.set()
