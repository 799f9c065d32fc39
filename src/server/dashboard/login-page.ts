// The sign-in form: the browser posts the API token once and gets a session cookie (auth.ts).

export function loginPage(failed: boolean): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Trigger Hub — sign in</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:15px/1.5 system-ui,sans-serif;background:#f4f5f7;color:#1d2330;display:grid;place-items:center;height:100vh;margin:0}
form{background:#fff;padding:2rem 2.5rem;border-radius:10px;box-shadow:0 2px 12px #0002;min-width:22rem}
h1{font-size:1.2rem;margin:0 0 1rem} input{width:100%;box-sizing:border-box;padding:.55rem;border:1px solid #c6cad3;border-radius:6px;font:inherit}
button{margin-top:1rem;padding:.55rem 1.2rem;border:0;border-radius:6px;background:#2f5bea;color:#fff;font:inherit;cursor:pointer}
.error{color:#b42318;margin:.5rem 0 0}
</style></head><body>
<form method="post" action="/dashboard/login">
<h1>Trigger Hub dashboard</h1>
<label for="token">API token (TH_API_TOKEN)</label>
<input id="token" name="token" type="password" autocomplete="current-password" autofocus required>
${failed ? '<p class="error" role="alert">That token is not the one the hub was started with.</p>' : ''}
<button type="submit">Sign in</button>
</form></body></html>`;
}
