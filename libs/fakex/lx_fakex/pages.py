"""The consent page a person clicks through in a browser: plain HTML, no scripts, no external assets."""

from __future__ import annotations

from html import escape

_HIDDEN = ("response_type", "client_id", "redirect_uri", "scope", "state", "code_challenge", "code_challenge_method")

_STYLE = """
body{font-family:system-ui,sans-serif;background:#f5f8fa;color:#0f1419;margin:0}
main{max-width:28rem;margin:3rem auto;background:#fff;border:1px solid #cfd9de;border-radius:1rem;padding:2rem}
h1{font-size:1.4rem;margin-top:0}p.note{color:#536471;font-size:.9rem}ul{padding-left:1.2rem}
label{display:block;margin:1rem 0 .3rem;font-weight:600}
input{width:100%;box-sizing:border-box;padding:.6rem;border:1px solid #cfd9de;border-radius:.4rem;font-size:1rem}
.buttons{display:flex;gap:.75rem;margin-top:1.5rem}
button{flex:1;padding:.7rem;border-radius:2rem;font-size:1rem;font-weight:700;cursor:pointer}
button.allow{background:#0f1419;color:#fff;border:0}button.deny{background:#fff;border:1px solid #cfd9de}
.error{color:#b00020;font-weight:600}
"""


def _page(title: str, body: str) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body><main>{body}</main></body></html>"
    )


def consent_page(params: dict[str, str], error: str | None = None) -> str:
    hidden = "".join(f'<input type="hidden" name="{name}" value="{escape(params.get(name, ""))}">' for name in _HIDDEN)
    scopes = "".join(f"<li>{escape(s)}</li>" for s in params.get("scope", "").split())
    problem = f'<p class="error" role="alert">{escape(error)}</p>' if error else ""
    return _page(
        "Authorize app - fake X",
        f"""<h1>Labour Exchange wants to access your X account</h1>
<p class="note">This is the fake X used for development and tests. No real X account is involved.</p>
<p>It asks for:</p><ul>{scopes}</ul>{problem}
<form method="post" action="/i/oauth2/authorize">{hidden}
<label for="username">Your X username</label>
<input id="username" name="username" required maxlength="16" pattern="@?[A-Za-z0-9_]{{1,15}}"
 autocomplete="username" value="{escape(params.get("username", ""))}">
<label for="name">Display name (for a new fake account; optional)</label>
<input id="name" name="name" maxlength="50" value="{escape(params.get("name", ""))}">
<div class="buttons"><button class="allow" name="decision" value="allow">Authorize app</button>
<button class="deny" name="decision" value="deny" formnovalidate>Cancel</button></div>
</form>""",
    )


def error_page(problems: list[str]) -> str:
    items = "".join(f"<li>{escape(p)}</li>" for p in problems)
    return _page(
        "Something went wrong - fake X",
        f"""<h1>Something went wrong</h1>
<p>You weren't able to give access to the app. The authorization request is not valid:</p>
<ul>{items}</ul>""",
    )
