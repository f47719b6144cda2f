/** Who is signed in: GET /v1/me with the cookie session, shared with every screen. */
import { createContext, useContext } from 'react';
import type { Me } from './api.js';

export interface SessionContextValue {
  me: Me;
  /** Reads GET /v1/me again (after a step-up or an enrolment). */
  refresh: () => Promise<void>;
  signOut: () => Promise<void>;
}

export const SessionContext = createContext<SessionContextValue | undefined>(undefined);

export function useSession(): SessionContextValue {
  const value = useContext(SessionContext);
  if (value === undefined) throw new Error('useSession outside a signed-in console');
  return value;
}

export function hasPermission(me: Me, permission: string): boolean {
  return me.permissions.includes(permission);
}
