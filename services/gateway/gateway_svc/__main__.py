import uvicorn

from gateway_svc.settings import GatewaySettings

settings = GatewaySettings()
# As lx_platform.serve, but uvicorn must not rewrite the client address from X-Forwarded-For
# itself (by default it believes 127.0.0.1, which under `make run` is every local process): the
# gateway decides whom to believe (gateway_svc/clientaddr.py).
uvicorn.run(
    "gateway_svc.app:create_app",
    factory=True,
    host=settings.host,
    port=settings.port,
    log_config=None,
    access_log=False,
    timeout_graceful_shutdown=10,
    proxy_headers=False,
)
