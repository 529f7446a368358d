from lx_platform.serve import serve
from web_svc.settings import WebSettings

serve("web_svc.app:create_app", WebSettings())
