import uvicorn

from matcher_svc.settings import MatcherSettings

settings = MatcherSettings()
uvicorn.run(
    "matcher_svc.app:create_app",
    factory=True,
    host=settings.host,
    port=settings.port,
    log_config=None,
    access_log=False,
)
