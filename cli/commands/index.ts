// Every subcommand of `ketch`, registered in help order.
import type { Command } from 'commander';
import { register as registerComponents } from './components.js';
import { register as registerServer } from './server.js';

export function registerAll(program: Command): void {
  registerServer(program);
  registerComponents(program);
}
