from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from lx_platform.settings import ServiceSettings
from matcher_svc.service import Tuning


class MatcherSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="MATCHER_", extra="ignore")

    port: int = 8104
    db_schema: str = "matcher"
    # A request opened is ranked as soon as it is read: proposals within a quarter of a second of the
    # request (bench/README.md). The held fetch is what a new event waits for (lx_platform.kafka);
    # 50 ms costs about 4 % of a core for the matcher's 14 topics while idle, against under 1 % at 500.
    kafka_fetch_max_wait_ms: int = 50
    # How many candidates the SQL pre-filter hands to the precise scoring.
    candidate_pool: int = 200
    # Invitations this recent make a supporter rank lower (fairness).
    invitation_window_hours: float = 14 * 24
    # Proactive proposals when a request opens: how many, and how often one supporter may be proposed.
    proposals_per_request: int = 5
    proposals_per_supporter: int = 3
    proposal_window_hours: float = 24
    proposal_min_score: float = 0.3
    # How often outbox rows naming an erased person are deleted once published.
    erasure_sweep_interval_s: float = 1.0

    def tuning(self) -> Tuning:
        return Tuning(
            candidate_pool=self.candidate_pool,
            invitation_window_hours=self.invitation_window_hours,
            proposals_per_request=self.proposals_per_request,
            proposals_per_supporter=self.proposals_per_supporter,
            proposal_window_hours=self.proposal_window_hours,
            proposal_min_score=self.proposal_min_score,
        )
