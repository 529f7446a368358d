"""The gauges behind the ErasureStuck alert, read from identity's erasures in a schema of this test's own."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from identity_svc import metrics, service
from lx_devstack.testing import migrated_pool

pytestmark = pytest.mark.integration


async def test_pending_erasures_and_the_oldest_ones_age_are_exported(scratch_schema: tuple[str, str]) -> None:
    db = await migrated_pool(
        *scratch_schema, Path(service.__file__).parents[1] / "migrations", application_name="test-erasure-metrics"
    )
    now = datetime.now(UTC)

    async def erasure(asked: timedelta, *, completed: bool) -> None:
        await db.execute(
            """INSERT INTO erasures (subject_hash, requested_at, services, confirmed, completed_at)
               VALUES ($1, $2, $3, $4, $5)""",
            hashlib.sha256(str(uuid.uuid4()).encode()).hexdigest(),
            now - asked,
            ["skills", "requests"],
            ["skills", "requests"] if completed else ["skills"],
            now if completed else None,
        )

    try:
        await metrics.observe_erasures(db)
        assert metrics.ERASURES_PENDING._value.get() == 0  # noqa: SLF001 - the gauge's own value
        assert metrics.ERASURE_OLDEST_PENDING._value.get() == 0  # noqa: SLF001

        await erasure(timedelta(days=2), completed=True)  # long done: not counted
        await erasure(timedelta(hours=1), completed=False)
        await erasure(timedelta(seconds=5), completed=False)
        await metrics.observe_erasures(db)
        assert metrics.ERASURES_PENDING._value.get() == 2  # noqa: SLF001
        assert 3600 <= metrics.ERASURE_OLDEST_PENDING._value.get() < 3700  # noqa: SLF001
    finally:
        await db.close()
