/**
 * Passkey ceremonies in the browser: the server's JSON options to what navigator.credentials wants, and the
 * credential back to JSON. Uses PublicKeyCredential.parse…FromJSON() and toJSON() where the browser has them,
 * and converts by hand (base64url ↔ ArrayBuffer) where it does not.
 */

type Json = Record<string, unknown>;

interface PublicKeyCredentialStatics {
  parseCreationOptionsFromJSON?: (options: Json) => PublicKeyCredentialCreationOptions;
  parseRequestOptionsFromJSON?: (options: Json) => PublicKeyCredentialRequestOptions;
}

export function passkeysSupported(): boolean {
  return typeof window !== 'undefined' && typeof window.PublicKeyCredential === 'function' && navigator.credentials !== undefined;
}

export function fromBase64Url(text: string): ArrayBuffer {
  const b64 = text.replace(/-/g, '+').replace(/_/g, '/') + '==='.slice((text.length + 3) % 4);
  const s = atob(b64);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out.buffer;
}

export function toBase64Url(data: ArrayBuffer | ArrayBufferView): string {
  const bytes = data instanceof ArrayBuffer ? new Uint8Array(data) : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]!);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function descriptors(list: unknown): PublicKeyCredentialDescriptor[] | undefined {
  if (!Array.isArray(list)) return undefined;
  return (list as Array<{ id: string; type?: string; transports?: string[] }>).map((d) => ({
    id: fromBase64Url(d.id),
    type: 'public-key',
    ...(d.transports === undefined ? {} : { transports: d.transports as AuthenticatorTransport[] }),
  }));
}

function statics(): PublicKeyCredentialStatics {
  return window.PublicKeyCredential as unknown as PublicKeyCredentialStatics;
}

export function creationOptions(json: Json): PublicKeyCredentialCreationOptions {
  const parse = statics().parseCreationOptionsFromJSON;
  if (typeof parse === 'function') return parse.call(window.PublicKeyCredential, json);
  const user = json.user as { id: string; name: string; displayName: string };
  const excluded = descriptors(json.excludeCredentials);
  return {
    ...(json as unknown as PublicKeyCredentialCreationOptions),
    challenge: fromBase64Url(json.challenge as string),
    user: { ...user, id: fromBase64Url(user.id) },
    ...(excluded === undefined ? {} : { excludeCredentials: excluded }),
  };
}

export function requestOptions(json: Json): PublicKeyCredentialRequestOptions {
  const parse = statics().parseRequestOptionsFromJSON;
  if (typeof parse === 'function') return parse.call(window.PublicKeyCredential, json);
  const allowed = descriptors(json.allowCredentials);
  return {
    ...(json as unknown as PublicKeyCredentialRequestOptions),
    challenge: fromBase64Url(json.challenge as string),
    ...(allowed === undefined ? {} : { allowCredentials: allowed }),
  };
}

/** The credential as JSON (WebAuthn Level 3 toJSON()), by hand where the browser lacks it. */
export function credentialJson(credential: PublicKeyCredential): Json {
  const withJson = credential as { toJSON?: () => unknown };
  if (typeof withJson.toJSON === 'function') return withJson.toJSON() as unknown as Json;
  const r = credential.response;
  const response: Json = { clientDataJSON: toBase64Url(r.clientDataJSON) };
  if ('attestationObject' in r) {
    const att = r as AuthenticatorAttestationResponse;
    response.attestationObject = toBase64Url(att.attestationObject);
    if (typeof att.getTransports === 'function') response.transports = att.getTransports();
  } else {
    const a = r as AuthenticatorAssertionResponse;
    response.authenticatorData = toBase64Url(a.authenticatorData);
    response.signature = toBase64Url(a.signature);
    if (a.userHandle !== null) response.userHandle = toBase64Url(a.userHandle);
  }
  return {
    id: credential.id,
    rawId: toBase64Url(credential.rawId),
    type: credential.type,
    response,
    clientExtensionResults: credential.getClientExtensionResults(),
    ...(credential.authenticatorAttachment === null ? {} : { authenticatorAttachment: credential.authenticatorAttachment }),
  };
}

export async function createPasskey(options: Json): Promise<Json> {
  if (!passkeysSupported()) throw new Error('this browser does not support passkeys');
  const credential = (await navigator.credentials.create({ publicKey: creationOptions(options) })) as PublicKeyCredential | null;
  if (credential === null) throw new Error('no passkey was created');
  return credentialJson(credential);
}

export async function getPasskey(options: Json): Promise<Json> {
  if (!passkeysSupported()) throw new Error('this browser does not support passkeys');
  const credential = (await navigator.credentials.get({ publicKey: requestOptions(options) })) as PublicKeyCredential | null;
  if (credential === null) throw new Error('no passkey answered');
  return credentialJson(credential);
}
