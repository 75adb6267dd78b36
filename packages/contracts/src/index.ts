export * from './channels.js';
export * from './device-csv.js';
export * from './events.js';
export * from './ingest.js';
export * from './jobs.js';
export * from './sms.js';
