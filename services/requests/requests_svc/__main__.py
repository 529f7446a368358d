from lx_platform.serve import serve
from requests_svc.settings import RequestsSettings

serve("requests_svc.app:create_app", RequestsSettings())
