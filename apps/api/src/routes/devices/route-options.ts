import type { DeviceRegistry } from './device-registry.js';

/**
 * What the devices plugin (index.ts) hands each of its route files. In a file of its own so
 * the route files do not import the plugin that imports them.
 */
export interface DeviceRouteOptions {
  registry: DeviceRegistry;
}
