"""Settings of the twitter gateway (env prefix `TWITTER_`). Defaults point at the real X; under `make run`
the devstack passes the fake X's address and dev credentials instead. Secrets have no defaults."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from lx_platform.settings import ServiceSettings


def _secret(value: SecretStr | None) -> str:
    return value.get_secret_value() if value is not None else ""


class TwitterSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="TWITTER_", extra="ignore")

    port: int = 8105
    db_schema: str = "twitter"

    # -- X itself ----------------------------------------------------------------------------
    x_api_base_url: str = Field(default="https://api.x.com", description="Where X's API answers.")
    x_authorize_url: str = Field(default="https://x.com/i/oauth2/authorize", description="X's OAuth 2.0 consent page.")
    x_client_id: str = Field(default="", description="The app's OAuth 2.0 client id.")
    x_client_secret: SecretStr | None = Field(default=None, description="The app's OAuth 2.0 client secret.")
    x_bearer_token: SecretStr | None = Field(default=None, description="App-only bearer token, for reads.")
    x_account_token: SecretStr | None = Field(
        default=None, description="The campaign account's OAuth 2.0 user token, for replies and DMs."
    )
    x_account_refresh_token: SecretStr | None = Field(
        default=None, description="Refresh token of the campaign account's user token, if it expires."
    )
    x_max_attempts: int = Field(default=4, ge=1, description="Tries per X call on 5xx or connection errors.")
    x_backoff_base_s: float = Field(default=0.5, gt=0)
    x_backoff_cap_s: float = Field(default=8.0, gt=0)

    # -- our side ----------------------------------------------------------------------------
    token_keys: SecretStr | None = Field(
        default=None,
        description="`kid:base64url-32-bytes[,kid:...]`: the first key seals X tokens at rest, every key opens.",
    )
    public_base_url: str = Field(default="http://127.0.0.1:8000", description="Links in replies and DMs.")
    oauth_redirect_uri: str = Field(
        default="http://127.0.0.1:8000/api/v1/auth/x/callback", description="Registered with X for the app."
    )
    oauth_extra_redirect_uris: list[str] = Field(
        default_factory=list,
        description="Other addresses registered with X that `authorize?redirect_uri=` may name (the web client's).",
    )
    identity_internal_key: SecretStr | None = Field(
        default=None, description="Presented to identity's `POST /internal/v1/x-sign-in`."
    )
    identity_timeout_s: float = 10.0
    oauth_state_ttl_s: int = Field(default=600, ge=30, description="How long a sign-in with X may take.")

    # -- defaults of the admin settings (the row in `x_settings` wins once it exists) -----------
    hashtags: list[str] = Field(default_factory=lambda: ["LabourExchange"])
    poll_interval_s: int = Field(default=60, ge=15, le=3600)
    monthly_read_budget: int = Field(default=10_000, ge=0)
    monthly_post_budget: int = Field(default=1_500, ge=0)
    posting_enabled: bool = False

    # -- loops -------------------------------------------------------------------------------
    erasure_sweep_interval_s: float = Field(
        default=1.0, gt=0, description="How often outbox rows naming an erased person are deleted once published."
    )
    reseal_interval_s: float = Field(
        default=300.0,
        gt=0,
        description="How often stored tokens still sealed with an older token key are moved to the current one.",
    )
    loop_tick_s: float = Field(
        default=1.0, gt=0, description="How often the loops look whether work is due (cheap when none is)."
    )
    poll_interval_override_s: float | None = Field(
        default=None,
        gt=0,
        description="Development and tests only: poll this often whatever the admin set (the admin's value "
        "keeps its 15 s floor).",
    )
    max_pages_per_poll: int = Field(default=5, ge=1, description="next_token pages followed per stream per poll.")
    page_size: int = Field(default=100, ge=10, le=100)
    sender_batch: int = Field(default=20, ge=1)
    sender_max_attempts: int = Field(default=6, ge=1, description="Tries of one reply, DM or revoke before giving up.")
    sender_backoff_base_s: float = Field(default=30.0, gt=0)
    sender_backoff_cap_s: float = Field(default=3600.0, gt=0)
    deletion_check_interval_s: float = Field(
        default=3600.0, gt=0, description="How often stored tweets are checked for deletion on X."
    )
    deletion_check_max_lookups: int = Field(default=5, ge=1, description="Lookups of 100 tweets per check.")
    deletion_recheck_after_s: float = Field(
        default=3600.0, ge=0, description="A tweet is looked up again at most this often."
    )

    @property
    def x_configured(self) -> bool:
        """Whether enough is set to talk to X and keep its tokens: without it the loops idle and OAuth is 503."""
        return bool(
            self.x_client_id
            and _secret(self.x_client_secret)
            and _secret(self.x_bearer_token)
            and _secret(self.token_keys)
        )

    @property
    def sign_in_configured(self) -> bool:
        return self.x_configured and bool(_secret(self.identity_internal_key))

    def secret(self, name: str) -> str:
        """The plain value of a secret setting, or ''."""
        value = getattr(self, name)
        return _secret(value) if isinstance(value, SecretStr) or value is None else str(value)

    @property
    def allowed_redirect_uris(self) -> set[str]:
        return {self.oauth_redirect_uri, *self.oauth_extra_redirect_uris}
