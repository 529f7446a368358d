"""The manifests' tools live in deploy/k8s/tools (run as `python -m deploy.k8s.tools.…` from the repository
root); make them importable however pytest was started."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
