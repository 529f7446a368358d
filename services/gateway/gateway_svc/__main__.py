from gateway_svc.settings import GatewaySettings
from lx_platform.serve import serve

serve("gateway_svc.app:create_app", GatewaySettings())
