// Every subcommand of `ketch`, registered in help order.
import type { Command } from 'commander';
import { register as registerServer } from './server.js';
import { register as registerComponents } from './components.js';
import { register as registerControlPlane } from './control-plane.js';
import { register as registerUp } from './up.js';
import { register as registerGet } from './get.js';
import { register as registerVersion } from './version.js';
import { register as registerApply } from './apply.js';
import { register as registerCreate } from './create.js';
import { register as registerDelete } from './delete.js';
import { register as registerLabel } from './label.js';
import { register as registerAnnotate } from './annotate.js';
import { register as registerPatch } from './patch.js';
import { register as registerScale } from './scale.js';
import { register as registerApiResources } from './api-resources.js';
import { register as registerCordon } from './cordon.js';
import { register as registerWait } from './wait.js';
import { register as registerDescribe } from './describe.js';
import { register as registerRollout } from './rollout.js';
import { register as registerEvents } from './events.js';
import { register as registerExplain } from './explain.js';
import { register as registerWhy } from './why.js';

export function registerAll(program: Command): void {
  registerUp(program);
  registerServer(program);
  registerComponents(program);
  registerControlPlane(program);
  registerGet(program);
  registerDescribe(program);
  registerCreate(program);
  registerApply(program);
  registerDelete(program);
  registerLabel(program);
  registerAnnotate(program);
  registerPatch(program);
  registerScale(program);
  registerRollout(program);
  registerWhy(program);
  registerEvents(program);
  registerExplain(program);
  registerApiResources(program);
  registerCordon(program);
  registerWait(program);
  registerVersion(program);
}
