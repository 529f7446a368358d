from gateway_svc.settings import GatewaySettings
from lx_platform.serve import serve

# uvicorn must not rewrite the client address from X-Forwarded-For itself (by default it believes
# 127.0.0.1, which under `make run` is every local process): the gateway decides whom to believe
# (gateway_svc/clientaddr.py).
serve("gateway_svc.app:create_app", GatewaySettings(), proxy_headers=False)
