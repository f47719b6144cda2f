// Writes docs/configuration.md from the configuration schema (run after `npm run build`).
import { writeFileSync } from 'node:fs';
import { renderConfigReference } from '../dist/config/docs.js';
writeFileSync(new URL('../docs/configuration.md', import.meta.url), renderConfigReference());
console.log('docs/configuration.md written');
