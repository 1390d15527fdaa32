// The local OpenID provider: oidc-provider (an OpenID Certified implementation) configured
// for Hanko's console, so that `make run` and the browser tests log in the way AWS does
// (authorization code with PKCE, refresh tokens, a JWKS, RP-initiated logout), with the dev
// users of infra/dev-users.json and their passwords.
//
//   node infra/local/oidc-provider.mjs [--port 9400] [--users infra/dev-users.json]
//        [--client-id hanko-console] [--unverified EMAIL]... [--settings FILE]
//
// The console is a public client (no secret) of the `native` type, so any port of
// http://127.0.0.1 or http://localhost is accepted for /auth/callback (RFC 8252, 7.3).
// `--settings FILE` names a JSON file read at each token: {"tokenTtl": seconds,
// "refreshTokens": bool}, so a test (or a person) can shorten sessions without a restart.
// Each thing the provider does is one JSON line on stdout ({"event": ...}); the tests read
// them.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

import { argon2Verify } from 'hash-wasm';
import Provider from 'oidc-provider';

const { values: opts } = parseArgs({
  options: {
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string', default: '9400' },
    users: { type: 'string', default: new URL('../dev-users.json', import.meta.url).pathname },
    'client-id': { type: 'string', default: 'hanko-console' },
    unverified: { type: 'string', multiple: true, default: [] },
    settings: { type: 'string' },
    'token-ttl': { type: 'string', default: '3600' },
  },
});

const issuer = `http://${opts.host}:${opts.port}`;
const users = new Map(
  JSON.parse(readFileSync(opts.users, 'utf8')).users.map((u) => [u.email.toLowerCase(), u]),
);
const unverified = new Set(opts.unverified.map((e) => e.toLowerCase()));

function log(event, fields = {}) {
  process.stdout.write(`${JSON.stringify({ event, ...fields })}\n`);
}

function settings() {
  const fallback = { tokenTtl: Number(opts['token-ttl']), refreshTokens: true };
  if (!opts.settings) return fallback;
  try {
    return { ...fallback, ...JSON.parse(readFileSync(opts.settings, 'utf8')) };
  } catch {
    return fallback;
  }
}

const LOOPBACKS = new Set(['127.0.0.1', 'localhost', '[::1]']);
const isLoopback = (origin) => {
  try {
    const url = new URL(origin);
    return url.protocol === 'http:' && LOOPBACKS.has(url.hostname);
  } catch {
    return false;
  }
};

const escape = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function page(title, body) {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escape(title)} · Local OpenID provider</title>
<style>
body{font-family:system-ui,sans-serif;background:#f4f5f7;color:#1d2433;display:grid;place-items:center;min-height:100vh;margin:0}
main{background:#fff;border:1px solid #d5d9e0;border-radius:8px;padding:2rem;width:min(24rem,90vw)}
h1{font-size:1.25rem;margin-top:0}label{display:block;margin:.75rem 0 .25rem;font-weight:600}
input{width:100%;box-sizing:border-box;padding:.5rem;font-size:1rem;border:1px solid #8a93a3;border-radius:4px}
button{margin-top:1.25rem;width:100%;padding:.6rem;font-size:1rem;background:#1d4ed8;color:#fff;border:0;border-radius:4px;cursor:pointer}
.error{color:#b42318;font-weight:600}.hint{color:#4b5563;font-size:.875rem}
</style></head><body><main>${body}</main></body></html>`;
}

function loginPage(uid, { email = '', error = '' } = {}) {
  return page(
    'Log in',
    `<h1>Local OpenID provider</h1>
<p class="hint">A development login for Hanko: the users of infra/dev-users.json, with their dev passwords.</p>
${error ? `<p class="error" id="login-error" role="alert">${escape(error)}</p>` : ''}
<form method="post" action="/interaction/${escape(uid)}/login" id="provider-login">
<label for="email">Email</label><input id="email" name="email" type="email" autocomplete="username" required value="${escape(email)}" autofocus>
<label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit" id="provider-submit">Log in</button>
</form>`,
  );
}

async function readForm(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > 16 * 1024) throw new Error('form too large');
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: randomBytes(8).toString('hex'), use: 'sig', alg: 'RS256' };

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: opts['client-id'],
      application_type: 'native',
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      redirect_uris: ['http://127.0.0.1/auth/callback', 'http://localhost/auth/callback'],
      post_logout_redirect_uris: ['http://127.0.0.1/login', 'http://localhost/login'],
    },
  ],
  jwks: { keys: [signingKey] },
  cookies: { keys: [randomBytes(32).toString('hex')] },
  routes: {
    authorization: '/authorize',
    token: '/token',
    revocation: '/revoke',
    end_session: '/logout',
    jwks: '/jwks.json',
    userinfo: '/userinfo',
  },
  scopes: ['openid', 'email', 'profile', 'offline_access'],
  claims: {
    openid: ['sub', 'groups'],
    email: ['email', 'email_verified'],
    profile: ['name'],
  },
  // The ID token carries the scopes' claims (Hanko reads the ID token, as with Cognito).
  conformIdTokenClaims: false,
  features: {
    devInteractions: { enabled: false },
    revocation: { enabled: true },
    rpInitiatedLogout: {
      enabled: true,
      // The console asks for the logout; no second question here.
      logoutSource(ctx, form) {
        ctx.body = page('Logging out', `${form}<p>Logging out…</p><noscript><button form="op.logoutForm" name="logout" value="yes">Log out</button></noscript>
<script>const f=document.forms[0];const i=document.createElement('input');i.type='hidden';i.name='logout';i.value='yes';f.appendChild(i);f.submit();</script>`);
      },
      postLogoutSuccessSource(ctx) {
        ctx.body = page('Logged out', '<h1>Logged out</h1><p>You are logged out of the local provider.</p>');
      },
    },
  },
  pkce: { required: () => true },
  clientBasedCORS: (ctx, origin) => isLoopback(origin),
  issueRefreshToken: async (ctx, client) =>
    client.grantTypeAllowed('refresh_token') && settings().refreshTokens,
  ttl: {
    AccessToken: () => settings().tokenTtl,
    IdToken: () => settings().tokenTtl,
    RefreshToken: 24 * 3600,
    AuthorizationCode: 60,
    Interaction: 3600,
    Session: 24 * 3600,
    Grant: 24 * 3600,
  },
  async findAccount(ctx, id) {
    const user = users.get(id);
    if (!user) return undefined;
    return {
      accountId: id,
      async claims() {
        return {
          sub: id,
          email: user.email.toLowerCase(),
          email_verified: !unverified.has(id),
          name: user.name,
          groups: user.groups ?? [],
        };
      },
    };
  },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  renderError(ctx, out) {
    ctx.type = 'html';
    ctx.body = page('Error', `<h1>Error</h1><p class="error">${escape(out.error)}: ${escape(out.error_description ?? '')}</p>`);
  },
});

// A loopback redirect's port may vary for a native client; let the post-logout redirect do
// the same, so that a console on any local port comes back to its /login.
const allowed = provider.Client.prototype.postLogoutRedirectUriAllowed;
provider.Client.prototype.postLogoutRedirectUriAllowed = function postLogoutRedirectUriAllowed(value) {
  if (allowed.call(this, value)) return true;
  try {
    const url = new URL(value);
    if (url.protocol !== 'http:' || !LOOPBACKS.has(url.hostname)) return false;
    url.port = '';
    return allowed.call(this, url.href);
  } catch {
    return false;
  }
};

// The login form and its answer.
provider.use(async (ctx, next) => {
  const match = ctx.path.match(/^\/interaction\/([^/]+)(\/login)?$/);
  if (!match) return next();
  ctx.set('Cache-Control', 'no-store');
  const details = await provider.interactionDetails(ctx.req, ctx.res);
  // Already logged in here, and asked again only for consent (oidc-provider asks a native
  // client each time): the console is Hanko's own, so it is given without a question.
  if (details.prompt.name === 'consent' && details.session?.accountId) {
    return finish(ctx, details, details.session.accountId, false);
  }
  if (ctx.method === 'GET' && !match[2]) {
    ctx.type = 'html';
    ctx.body = loginPage(details.uid);
    return undefined;
  }
  if (ctx.method !== 'POST' || !match[2]) {
    ctx.status = 405;
    return undefined;
  }
  const form = await readForm(ctx.req);
  const email = (form.get('email') ?? '').trim().toLowerCase();
  const user = users.get(email);
  const ok = user && (await argon2Verify({ password: form.get('password') ?? '', hash: user.passwordHash }).catch(() => false));
  if (!ok) {
    log('login.refused', { email });
    ctx.type = 'html';
    ctx.status = 401;
    ctx.body = loginPage(details.uid, { email, error: 'Wrong email or password.' });
    return undefined;
  }
  log('login', { email });
  return finish(ctx, details, email, true);
});

// Ends an interaction: the person (logged in now, or before) consents to the scopes asked.
async function finish(ctx, details, accountId, loggedIn) {
  const { params } = details;
  const grant = (details.grantId && (await provider.Grant.find(details.grantId)))
    || new provider.Grant({ accountId, clientId: params.client_id });
  grant.addOIDCScope(String(params.scope ?? 'openid'));
  const grantId = await grant.save();
  const result = { consent: { grantId }, ...(loggedIn ? { login: { accountId } } : {}) };
  const redirectTo = await provider.interactionResult(ctx.req, ctx.res, result, { mergeWithLastSubmission: true });
  ctx.status = 303;
  ctx.redirect(redirectTo);
  return undefined;
}

// Revocation answers 200 whether or not the token was known (RFC 7009); say which here.
provider.use(async (ctx, next) => {
  await next();
  if (ctx.path === '/revoke' && ctx.method === 'POST') log('revocation', { status: ctx.status });
});

provider.on('interaction.started', (ctx, prompt) => log('authorization.started', { state: ctx.oidc.params.state ?? null, prompt: prompt.name, reasons: prompt.reasons }));
provider.on('authorization.success', () => log('authorization.success'));
provider.on('grant.success', (ctx) => log('token', { grantType: ctx.oidc.params.grant_type }));
provider.on('end_session.success', () => log('logout'));
for (const route of ['authorization', 'grant', 'end_session', 'revocation', 'userinfo', 'jwks', 'discovery']) {
  provider.on(`${route}.error`, (ctx, err) => log('refused', { route, error: err.error ?? err.message, detail: err.error_description ?? null }));
}
provider.on('server_error', (ctx, err) => log('server_error', { error: String(err?.stack ?? err) }));

const server = provider.listen(Number(opts.port), opts.host, () => {
  const { port } = server.address();
  log('listening', { issuer: `http://${opts.host}:${port}`, users: users.size });
});
const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
