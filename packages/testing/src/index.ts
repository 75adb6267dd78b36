export { createTestDatabase, type TestDatabase } from './database.js';
export { freePort } from './ports.js';
export { createTestRedis, type TestRedis } from './redis.js';
