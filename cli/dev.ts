// Runs the CLI from source: npx tsx cli/dev.ts ARGS (the installed `ketch` runs dist/).
import { main } from './main.js';

await main(process.argv.slice(2));
