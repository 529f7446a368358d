"""argon2id password hashing, off the event loop and on a small pool of its own.

Each hash holds about 19 MiB while it runs. Two dedicated threads bound both the CPU a burst of
sign-ins takes and the memory the allocator keeps afterwards (every thread grows its own arena).
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError


class Passwords:
    def __init__(self, *, time_cost: int, memory_kib: int, parallelism: int, concurrency: int = 2) -> None:
        self._hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism)
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="argon2")
        self._dummy: str | None = None

    async def _run(self, fn, *args):  # type: ignore[no-untyped-def]
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    async def hash(self, password: str) -> str:
        result: str = await self._run(self._hasher.hash, password)
        return result

    async def verify(self, password_hash: str | None, password: str) -> bool:
        """True if the password matches; an unknown account costs the same time as a wrong password."""
        if password_hash is None:
            # Verified against when the account does not exist, so timing does not reveal which emails exist.
            if self._dummy is None:
                self._dummy = await self.hash("not-a-real-password-for-timing")
            password_hash = self._dummy
            known = False
        else:
            known = True
        try:
            return bool(await self._run(self._hasher.verify, password_hash, password)) and known
        except (VerificationError, InvalidHashError):
            return False
