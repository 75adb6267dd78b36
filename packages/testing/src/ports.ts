// One implementation for the scripts (which run before the build) and the tests.
export { freePort, portFree } from '../../../scripts/lib/ports.mjs';
