/**
 * Who is asking and what they may see. Routes, services and the auth plugin all import
 * these from here, so no service depends on the plugin that authenticates requests.
 */

/**
 * What a principal may see. null lists mean "no restriction on this dimension"; a device is
 * visible when it matches every restricted dimension (region AND customer).
 */
export interface Scope {
  regions: string[] | null;
  customers: string[] | null;
}

export interface Principal {
  kind: 'admin-key' | 'api-key' | 'session';
  id: string;
  role: 'admin' | 'operator' | 'viewer';
  /** null = the whole fleet. */
  scope: Scope | null;
  /** The signed-in user (sessions, and API keys owned by a user). */
  userId?: string;
}
