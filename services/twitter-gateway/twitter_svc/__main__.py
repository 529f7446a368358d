import uvicorn

from twitter_svc.settings import TwitterSettings

settings = TwitterSettings()
uvicorn.run(
    "twitter_svc.app:create_app",
    factory=True,
    host=settings.host,
    port=settings.port,
    log_config=None,
    access_log=False,
)
