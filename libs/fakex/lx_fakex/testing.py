"""Run the fake X inside a test process on a free loopback port."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import uvicorn

from lx_fakex.app import create_app
from lx_fakex.state import FakeXState


@dataclass(frozen=True)
class RunningFakeX:
    url: str
    state: FakeXState


@asynccontextmanager
async def running_fake_x(port: int = 0, *, state: FakeXState | None = None) -> AsyncIterator[RunningFakeX]:
    """Serve the fake X on 127.0.0.1 (a free port unless given) in a background thread until the block ends.

    The server has its own thread and event loop, so blocking clients (tweepy) work from the test's loop too.
    """
    st = state or FakeXState()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    bound_port: int = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(st), log_level="warning", access_log=False, lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="fake-x", daemon=True)
    thread.start()
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10.0
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError("the fake X server stopped while starting")
            if loop.time() > deadline:
                raise RuntimeError("the fake X server did not start within 10 s")
            await asyncio.sleep(0.01)
        yield RunningFakeX(f"http://127.0.0.1:{bound_port}", st)
    finally:
        server.should_exit = True
        await asyncio.to_thread(thread.join, 10.0)
        sock.close()
