/** Formatting for people: times (UTC, as the server and the audit log state them), durations, assurance levels. */

export function formatTime(iso: string | null | undefined): string {
  if (iso === null || iso === undefined) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return `${d.toISOString().slice(0, 10)} ${d.toISOString().slice(11, 19)} UTC`;
}

export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(Math.abs(seconds)));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min`;
  if (s < 86_400) {
    const h = Math.floor(s / 3600);
    const m = Math.floor((s % 3600) / 60);
    return m === 0 ? `${h} h` : `${h} h ${m} min`;
  }
  const d = Math.floor(s / 86_400);
  const h = Math.floor((s % 86_400) / 3600);
  return h === 0 ? `${d} d` : `${d} d ${h} h`;
}

/** "in 14 min" / "3 min ago", relative to the server's now (the server's clock, not the browser's). */
export function relative(iso: string | null, serverNowMs: number): string {
  if (iso === null) return '—';
  const diff = (Date.parse(iso) - serverNowMs) / 1000;
  if (Math.abs(diff) < 1) return 'just now';
  return diff >= 0 ? `in ${formatDuration(diff)}` : `${formatDuration(diff)} ago`;
}

const ACR_NAMES: Record<string, string> = {
  'urn:loopgate:acr:aal1': 'AAL1 (password)',
  'urn:loopgate:acr:aal2': 'AAL2 (two factors)',
  'urn:loopgate:acr:aal3': 'AAL3 (device-bound passkey)',
};

export function acrName(acr: string): string {
  return ACR_NAMES[acr] ?? acr;
}

const AMR_NAMES: Record<string, string> = {
  pwd: 'password',
  otp: 'one-time code',
  hwk: 'device-bound key',
  swk: 'synced key',
  user: 'user verification',
};

export function amrNames(amr: string[]): string {
  return amr.map((a) => AMR_NAMES[a] ?? a).join(' + ');
}

export function score(value: number | null | undefined): string {
  return value === null || value === undefined ? '—' : value.toFixed(2);
}

export function signed(n: number): string {
  return `${n > 0 ? '+' : n < 0 ? '−' : '±'}${Math.abs(n).toFixed(2)}`;
}

export function label(text: string): string {
  return text.replace(/_/g, ' ');
}

const CONFLICTS: Record<string, string> = {
  LOOPGATE_ERR_SELF_REVIEW: 'This case is about you, or was raised by your own action. Someone else must decide it.',
  LOOPGATE_ERR_OWN_PRIVILEGE_CHANGE: 'This case changes your own roles, privileges or credentials. Someone else must decide it.',
  LOOPGATE_ERR_SPONSOR_CONFLICT: 'You sponsor the agent or service this case is about. Someone else must decide it.',
  LOOPGATE_ERR_REPORTING_LINE_CONFLICT: 'You and the subject of this case are in one reporting line. Someone else must decide it.',
};

export function conflictText(code: string): string {
  return CONFLICTS[code] ?? `You have a conflict of interest (${code}).`;
}
