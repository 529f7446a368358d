import uvicorn

from requests_svc.settings import RequestsSettings

settings = RequestsSettings()
uvicorn.run(
    "requests_svc.app:create_app",
    factory=True,
    host=settings.host,
    port=settings.port,
    log_config=None,
    access_log=False,
)
