import uvicorn

from identity_svc.settings import IdentitySettings

settings = IdentitySettings()
uvicorn.run(
    "identity_svc.app:create_app",
    factory=True,
    host=settings.host,
    port=settings.port,
    log_config=None,
    access_log=False,
)
