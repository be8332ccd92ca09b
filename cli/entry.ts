// Runs the CLI from source (node --import tsx cli/entry.ts ...); bin/ketch.js runs the built dist/cli/main.js.
import { main } from './main.js';

await main(process.argv.slice(2));
