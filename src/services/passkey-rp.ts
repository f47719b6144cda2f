/**
 * The WebAuthn relying party Loopgate is: which RP ID passkeys are scoped to and which origins may answer a
 * ceremony, resolved once from the configuration.
 *
 * - `auth.rp_origins` when set, else the origin of `server.public_url`, else `http://localhost:<server.port>`.
 *   Not `server.host`: browsers allow WebAuthn over plain HTTP only on localhost, and an IP address is never an RP ID.
 * - `auth.rp_id` when set, else the host name of `server.public_url`, else `localhost`.
 *
 * A configuration that cannot work (an IP address as RP ID, an origin outside the RP ID's domain, plain HTTP off
 * localhost) does not stop Loopgate from starting, since a deployment may not use passkeys at all: the problem is
 * returned, logged at start, and every passkey endpoint answers with it.
 */
import { isIP } from 'node:net';
import type { PasskeyConfig } from '../adapters/passkeys.js';
import type { Config } from '../config/schema.js';

export type PasskeyRelyingParty = { ok: true; config: PasskeyConfig } | { ok: false; problem: string };

/** Shown by the browser when a passkey is created. */
const RP_NAME = 'Loopgate';

export function passkeyRelyingParty(config: { server: Pick<Config['server'], 'port' | 'public_url'>; auth: Pick<Config['auth'], 'rp_id' | 'rp_origins'> }): PasskeyRelyingParty {
  const base = config.server.public_url ?? `http://localhost:${config.server.port}`;
  const given = config.auth.rp_origins.length > 0 ? config.auth.rp_origins : [base];
  const origins: URL[] = [];
  for (const text of given) {
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      return { ok: false, problem: `passkey origin "${text}" is not a URL (auth.rp_origins, or server.public_url)` };
    }
    origins.push(url);
  }
  const rpId = (config.auth.rp_id ?? (config.server.public_url === undefined ? 'localhost' : new URL(base).hostname)).toLowerCase();
  if (isIP(rpId.replace(/^\[|\]$/g, '')) !== 0) {
    return { ok: false, problem: `the passkey relying party id "${rpId}" is an IP address; WebAuthn needs a domain name (set auth.rp_id and auth.rp_origins)` };
  }
  for (const url of origins) {
    if (url.protocol !== 'https:' && url.protocol !== 'http:') {
      return { ok: false, problem: `passkey origin ${url.origin} is neither https nor http` };
    }
    const host = url.hostname.toLowerCase();
    // WebAuthn: the RP ID must be the origin's host or a registrable suffix of it.
    if (host !== rpId && !host.endsWith(`.${rpId}`)) {
      return { ok: false, problem: `passkey origin ${url.origin} is not within the relying party id "${rpId}" (auth.rp_id)` };
    }
    const localhost = host === 'localhost' || host.endsWith('.localhost');
    if (url.protocol === 'http:' && !localhost) {
      return { ok: false, problem: `passkey origin ${url.origin} is plain HTTP; browsers allow passkeys only over HTTPS (or on localhost)` };
    }
  }
  return { ok: true, config: { rpId, rpName: RP_NAME, origins: [...new Set(origins.map((u) => u.origin))] } };
}
