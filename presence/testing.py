"""Test helpers shipped with the package (like httpx's MockTransport): an in-memory bus,
ports, brokers, collectors."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import paho.mqtt.client as mqtt

from presence.transport.dispatch import BatchHandler, Handler
from presence.transport.payloads import encode_json
from presence.transport.ports import free_port, port_open

if TYPE_CHECKING:
    from presence.transport.bus import Bus

__all__ = [
    "Collector",
    "MemoryBus",
    "Instore",
    "PrivateMosquitto",
    "simulated_day",
    "free_port",
    "unique_store",
    "wait_until",
]


def wait_until(
    condition: Callable[[], bool], timeout_s: float = 10.0, step_s: float = 0.02
) -> bool:
    """Poll ``condition`` until true or the timeout; returns its last value."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step_s)
    return condition()


class Collector:
    """A bus handler that keeps (topic, payload) pairs, thread-safe; use as ``client.subscribe(f, c)``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.messages: list[tuple[str, bytes]] = []

    def __call__(self, topic: str, payload: bytes) -> None:
        with self._lock:
            self.messages.append((topic, payload))

    def __len__(self) -> int:
        with self._lock:
            return len(self.messages)

    def snapshot(self) -> list[tuple[str, bytes]]:
        with self._lock:
            return list(self.messages)


class MemoryBus:
    """A :class:`~presence.transport.bus.Bus` in memory, for tests of service logic.

    Topic filters match as on a broker (``+`` one level, ``#`` the rest: paho's own
    matcher, as the real client's dispatcher uses). ``publish`` delivers at once, on the
    publishing thread, before it returns; one lock lets one handler run at a time, as the
    real client's dispatcher thread does. A batch subscription receives runs of one
    message. A handler that raises is counted (``stats["handler_errors"]``) and never
    reaches the publisher. ``published`` keeps every message in order; ``payloads(f)``
    the payloads of those matching a filter (a dead-letter topic, say).
    """

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._subs: list[tuple[str, Handler | None, BatchHandler | None]] = []
        self.published: list[tuple[str, bytes]] = []
        self.stats = {"published": 0, "delivered": 0, "handler_errors": 0, "unhandled": 0}

    @property
    def connected(self) -> bool:
        return True

    def publish(
        self,
        topic: str,
        payload: bytes,
        *,
        qos: int = 1,
        retain: bool = False,
        timeout_s: float | None = None,
    ) -> None:
        with self._lock:
            self.published.append((topic, bytes(payload)))
            self.stats["published"] += 1
            matching = [(h, b) for f, h, b in self._subs if mqtt.topic_matches_sub(f, topic)]
            if not matching:
                self.stats["unhandled"] += 1
            for handler, batch in matching:
                try:
                    if handler is not None:
                        handler(topic, bytes(payload))
                    elif batch is not None:
                        batch([(topic, bytes(payload))])
                except Exception:  # like the real dispatcher: a handler bug is counted
                    self.stats["handler_errors"] += 1
                self.stats["delivered"] += 1

    def publish_json(
        self, topic: str, payload: Mapping[str, Any], *, qos: int = 1, retain: bool = False
    ) -> None:
        self.publish(topic, encode_json(payload), qos=qos, retain=retain)

    def subscribe(self, topic_filter: str, handler: Handler, *, qos: int = 1) -> None:
        with self._lock:
            self._subs.append((topic_filter, handler, None))

    def subscribe_batch(self, topic_filter: str, handler: BatchHandler, *, qos: int = 1) -> None:
        with self._lock:
            self._subs.append((topic_filter, None, handler))

    def wait_published(self, timeout_s: float = 30.0) -> bool:
        return True  # delivered before publish returned

    def payloads(self, topic_filter: str) -> list[bytes]:
        """Payloads published so far on topics matching ``topic_filter``, in order."""
        with self._lock:
            return [p for t, p in self.published if mqtt.topic_matches_sub(topic_filter, t)]


if TYPE_CHECKING:  # mypy checks that the fake keeps to the protocol
    _MEMORY_BUS_IS_A_BUS: type[Bus] = MemoryBus


def unique_store(prefix: str = "t") -> str:
    """A store name no other test uses, so tests sharing one broker never see each other's topics."""
    return f"{prefix}{uuid.uuid4().hex[:10]}"


class PrivateMosquitto:
    """A Mosquitto process of the test's own, on a free port, that a test may stop, kill and
    restart (the system one on 1883 is not ours to restart). ``config`` is extra config text;
    persistence goes to ``workdir`` so a restart keeps sessions and queued messages."""

    def __init__(
        self, workdir: Path, config: str = "allow_anonymous true\n", port: int = 0
    ) -> None:
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.conf = self.workdir / "mosquitto.conf"
        # Mosquitto started as root drops to the "mosquitto" user: its database goes to a
        # directory that user can write (a test's tmp_path is root-only).
        self.state_dir = Path(tempfile.mkdtemp(prefix="instore-mosquitto-"))
        self.state_dir.chmod(0o777)
        self.conf.write_text(
            f"listener {self.port} 127.0.0.1\n"
            f"persistence true\npersistence_location {self.state_dir}/\n"
            "set_tcp_nodelay true\nmax_queued_messages 0\n" + config
        )
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> PrivateMosquitto:
        exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        with (self.workdir / "mosquitto.log").open("ab") as log:
            self.proc = subprocess.Popen([exe, "-c", str(self.conf)], stdout=log, stderr=log)
        if not wait_until(lambda: port_open(self.port), 10):
            self.stop(signal.SIGKILL)  # reap it: a live Popen left behind warns in a later test
            raise RuntimeError(f"mosquitto did not listen on {self.port}: see {self.workdir}")
        return self

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """SIGTERM: Mosquitto saves its state; SIGKILL: a crash."""
        if self.proc is not None:
            self.proc.send_signal(sig)
            self.proc.wait(10)
            self.proc = None

    def close(self) -> None:
        """Stop and forget the saved state."""
        self.stop()
        shutil.rmtree(self.state_dir, ignore_errors=True)

    def __enter__(self) -> PrivateMosquitto:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


def simulated_day(base: Path, store_path: Path, *, shoppers: int = 6, duration: str = "4m") -> Path:
    """A small seeded simulation under ``base`` (made once, then reused by other tests)."""
    out = Path(base) / f"sim-{Path(store_path).stem}-{shoppers}-{duration}"
    if not (out / "observations.parquet").exists():
        from presence.cli import main

        args = ["simulate", "--store", str(store_path), "--shoppers", str(shoppers)]
        if main([*args, "--duration", duration, "--seed", "3", "-o", str(out)]) != 0:
            raise RuntimeError(f"simulation into {out} failed")
    return out


class Instore:
    """An ``instore`` command in a real process; stderr goes to a file the test can read.
    ``Instore.kill_all()`` (a test's teardown) ends every one still running."""

    running: list[Instore] = []

    def __init__(self, workdir: Path, name: str, *args: str) -> None:
        self.stdout = Path(workdir) / f"{name}.out"
        self.stderr = Path(workdir) / f"{name}.err"
        with self.stdout.open("ab") as out, self.stderr.open("ab") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "presence.cli", *args], stdout=out, stderr=err
            )
        Instore.running.append(self)

    @classmethod
    def kill_all(cls) -> None:
        for proc in cls.running:
            if proc.proc.poll() is None:
                proc.kill()
        cls.running.clear()

    def wait_for(self, text: str, timeout_s: float = 30.0) -> None:
        if not wait_until(lambda: text in self.stderr.read_text(), timeout_s, 0.05):
            raise AssertionError(f"no {text!r} from {self.proc.args!r}: {self.stderr.read_text()}")

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait(10)

    def finish(self, timeout_s: float = 60.0) -> int:
        try:
            return self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
            raise AssertionError(
                f"{self.proc.args!r} still running: {self.stderr.read_text()}"
            ) from None
