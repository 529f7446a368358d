from lx_platform.serve import serve
from matcher_svc.settings import MatcherSettings

serve("matcher_svc.app:create_app", MatcherSettings())
