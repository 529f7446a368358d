import uvicorn

from web_svc.settings import WebSettings

settings = WebSettings()
uvicorn.run(
    "web_svc.app:create_app", factory=True, host=settings.host, port=settings.port, log_config=None, access_log=False
)
