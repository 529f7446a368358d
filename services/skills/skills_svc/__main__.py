from lx_platform.serve import serve
from skills_svc.settings import SkillsSettings

serve("skills_svc.app:create_app", SkillsSettings())
