from identity_svc.settings import IdentitySettings
from lx_platform.serve import serve

serve("identity_svc.app:create_app", IdentitySettings())
