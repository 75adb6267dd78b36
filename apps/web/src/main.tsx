import { render } from 'preact';
import { App } from './app.js';
import { loadUiConfig } from './config.js';
import { setTimeZone } from './format.js';
import './styles.css';

const config = await loadUiConfig();
setTimeZone(config.timeZone);
render(<App />, document.getElementById('app') as HTMLElement);
