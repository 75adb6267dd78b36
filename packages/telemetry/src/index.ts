export { type Interpretation, interpretValues, LINE_COUNT, type LineReport } from './interpret.js';
export { type ParseResult, parseLenientJson, parseTelemetry } from './parse.js';
