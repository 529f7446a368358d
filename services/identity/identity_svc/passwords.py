"""argon2id password hashing, off the event loop and with bounded concurrency (each hash holds ~19 MiB)."""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError


class Passwords:
    def __init__(self, *, time_cost: int, memory_kib: int, parallelism: int, concurrency: int = 2) -> None:
        self._hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism)
        self._slots = asyncio.Semaphore(concurrency)
        # Verified against when the account does not exist, so timing does not reveal which emails exist.
        self._dummy = self._hasher.hash("not-a-real-password-for-timing")

    async def hash(self, password: str) -> str:
        async with self._slots:
            return await asyncio.to_thread(self._hasher.hash, password)

    async def verify(self, password_hash: str | None, password: str) -> bool:
        async with self._slots:
            try:
                return await asyncio.to_thread(self._hasher.verify, password_hash or self._dummy, password) and (
                    password_hash is not None
                )
            except (VerificationError, InvalidHashError):
                return False
