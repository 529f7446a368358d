import uvicorn

from skills_svc.settings import SkillsSettings

settings = SkillsSettings()
uvicorn.run(
    "skills_svc.app:create_app", factory=True, host=settings.host, port=settings.port, log_config=None, access_log=False
)
