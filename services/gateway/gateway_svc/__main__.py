import uvicorn

from gateway_svc.settings import GatewaySettings

settings = GatewaySettings()
uvicorn.run(
    "gateway_svc.app:create_app",
    factory=True,
    host=settings.host,
    port=settings.port,
    log_config=None,
    access_log=False,
)
