"""Progress reporting for people (a tqdm bar on stderr) or programs (JSON lines on stdout).

With ``json_lines`` every event is one JSON object on its own stdout line (schema in
docs/distillation.md, "Progress records"); ``progress`` records are sent at most once per
``min_interval`` seconds, every other event at once. Without it, a tqdm bar shows examples/s and
the ETA and notable events are printed above the bar. In a time-budgeted job the ETA is the time left
until the phase must stop training (shown beside the bar as ``ends_in``), not a projection of the
examples, and ``progress`` records add ``job_eta_s``: the time left until the whole job is over.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any, Callable, TextIO

from tqdm import tqdm


class Progress:
    def __init__(self, json_lines: bool = False, *, stream: TextIO | None = None, min_interval: float = 1.0,
                 enabled: bool = True) -> None:
        self.json_lines = json_lines
        self.stream = stream or sys.stdout
        self.min_interval = min_interval
        self.enabled = enabled
        self._bar: tqdm | None = None
        self._last_sent = 0.0
        self._phase = ""
        self._total = 0
        self._start_examples = 0
        self._start_time = 0.0
        self._time_left: Callable[[], float] | None = None
        self._job_left: Callable[[], float] | None = None
        self._count_bar: tqdm | None = None

    def event(self, event: str, text: str | None = None, **fields: Any) -> None:
        """Report an event; ``text`` is what a person sees (JSON consumers get the fields)."""
        if not self.enabled:
            return
        if self.json_lines:
            self.stream.write(json.dumps({"event": event, "t": round(time.time(), 3), **fields}) + "\n")
            self.stream.flush()
        elif text:
            (self._bar.write if self._bar is not None else tqdm.write)(text, file=sys.stderr)

    def ends_in(self, job_left: Callable[[], float]) -> None:
        """A time-budgeted job is over in ``job_left()`` seconds: every later ``progress`` record says so
        (``job_eta_s``)."""
        self._job_left = job_left

    def start_phase(self, phase: str, total: int, examples: int, time_left: Callable[[], float] | None = None) -> None:
        """A network starts at ``examples`` of ``total``; ``time_left``: seconds until it must stop (a time
        budget), which then is the ETA."""
        self._phase, self._total, self._start_examples, self._time_left = phase, total, examples, time_left
        self._start_time = time.perf_counter()
        self.event("phase", f"{phase} morpher: {examples:,} of {total:,} examples done",
                   phase=phase, examples=examples, total=total)
        if self.enabled and not self.json_lines:
            self._bar = tqdm(total=total, initial=examples, desc=f"{phase} morpher", unit="ex", unit_scale=True,
                             dynamic_ncols=True, file=sys.stderr)

    def advance(self, examples: int, loss: float) -> None:
        """Report that ``examples`` examples of the current phase are done; ``loss`` is the latest batch's."""
        left = None if self._time_left is None else max(0.0, self._time_left())
        if self._bar is not None:
            self._bar.update(examples - self._bar.n)
            ends = {} if left is None else {"ends_in": time.strftime("%H:%M:%S", time.gmtime(left))}
            self._bar.set_postfix(loss=f"{loss:.4g}", **ends, refresh=False)
        now = time.perf_counter()
        last = self._time_left is None and examples >= self._total  # a budgeted phase's end is not known ahead
        if not self.json_lines or (now - self._last_sent < self.min_interval and not last):
            return
        self._last_sent = now
        elapsed = now - self._start_time
        rate = (examples - self._start_examples) / elapsed if elapsed > 0 else 0.0
        eta = left if left is not None else (self._total - examples) / rate if rate > 0 else None
        job = {} if self._job_left is None else {"job_eta_s": round(max(0.0, self._job_left()), 1)}
        self.event("progress", phase=self._phase, examples=examples, total=self._total, loss=loss,
                   examples_per_s=round(rate, 3), eta_s=None if eta is None else round(eta, 1), **job)

    def count(self, event: str, label: str, done: int, total: int, **fields: Any) -> None:
        """Report ``done`` of ``total`` units of work other than training steps (evaluating, rendering the
        teacher cache): an ``event`` record with ``done`` and ``total`` (at most once per ``min_interval``,
        and always at the start and the end), or a progress bar labelled ``label``."""
        if not self.enabled:
            return
        if self.json_lines:
            now = time.perf_counter()
            if done in (0, total) or now - self._last_sent >= self.min_interval:
                self._last_sent = now
                self.event(event, **fields, done=done, total=total)
            return
        if self._count_bar is None:
            self._count_bar = tqdm(total=total, initial=done, desc=label, dynamic_ncols=True, file=sys.stderr,
                                   leave=False)
        self._count_bar.update(done - self._count_bar.n)
        if done >= total:
            self._count_bar.close()
            self._count_bar = None

    def evaluating(self, phase: str, done: int, total: int) -> None:
        """Evaluation progress: ``done`` of ``total`` held-out poses of ``phase`` (face, body or full)."""
        self.count("eval_progress", f"evaluating {phase}", done, total, phase=phase)

    def end_phase(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
