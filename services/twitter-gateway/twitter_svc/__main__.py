from lx_platform.serve import serve
from twitter_svc.settings import TwitterSettings

serve("twitter_svc.app:create_app", TwitterSettings())
